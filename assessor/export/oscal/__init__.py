"""OSCAL exports built with compliance-trestle's models (OSCAL ``trestle.oscal.OSCAL_VERSION``).

Identifiers: one mapping, used by both documents. ``render_catalog`` writes the controls and
objectives that ``render_assessment_results`` refers to, and both name them only through
``token``, ``requirement_token`` and ``objective_id``:

- a rule is the control ``token(rule id)``: the id itself (rule ids are kebab-case), or, if it
  does not start with a letter, ``_`` + the id;
- a framework requirement is the control ``requirement_token(framework, requirement)`` =
  ``token(framework)`` + ``_`` + the requirement id with every character outside
  ``[A-Za-z0-9.-]`` (the underscore too) written ``_<hex>_`` (``nist-800-53r5``/``CM-7(1)`` ->
  ``nist-800-53r5_CM-7_28_1_29_``). Rule and framework ids hold no underscore (their schema
  patterns), so the first underscore past the first character splits framework from
  requirement: the mapping is injective and never gives a rule's id;
- a requirement's assessment objective is the part ``objective_id(framework, requirement)`` =
  its control id + ``_obj`` (an unpaired ``_``, which an escaped id never holds).

``render_catalog`` also checks that every id it writes is unique and fails with one line if two
collide (a framework id equal to a rule id, say), so a reference never resolves to two things.

``render_assessment_results``: a stored assessment (``assessor.readmodel.AssessmentView``) as
OSCAL assessment results, one ``result``:

- ``metadata``: roles ``assessor`` (finalised the assessment), ``approver`` (approved a
  waiver), ``attester`` (attested a requirement), one party (a person, by the name recorded) per
  name, and responsible-parties linking them;
- ``local-definitions``: one inventory item per target (URI, kind, status, identity); the
  assessment assets: assessor itself as a software component, used by one assessment platform;
- ``observations``: one per result (rule x resource), method TEST (EXAMINE for a manual
  rule), its subject the target's inventory item, its origin the tool, its evidence a
  back-matter resource carrying the SHA-256; one per attestation (method EXAMINE, origin the
  attester), each attached file a back-matter resource named by its SHA-256 and embedded
  (base64; at most 32 MiB of files per document, the rest named only);
- ``risks``: one per applied waiver, status ``deviation-approved``, its risk log naming the
  approver and the date the waiver was recorded;
- ``findings``: one per framework requirement the read model gives a status other than
  ``not_assessed`` (requirements no result and no attestation address are not reviewed, and
  are left out). The target is the requirement's objective (``objective-id``). OSCAL's
  objective state is only satisfied | not-satisfied, so only ``pass`` (attested passes
  included) is satisfied; every other status is not-satisfied with reason ``fail`` (fail,
  waived) or ``other`` (error, manual, not_applicable), the status itself in the ``status``
  prop and the remarks; ``not_applicable`` also gets implementation-status not-applicable and
  the reason the rules gave. A waived failure stays not-satisfied and lists the waiver's risk.
  Statuses are read from the read model (``view.frameworks``), never recomputed here;
- ``reviewed-controls``: per framework, the requirement controls and objectives of the findings,
  and the framework's requirement counts by status (props ``requirements``, the status as
  class, ``not_assessed`` included): the report's numbers;
- ``import-ap``: there is no assessment plan, so the href is a fragment naming a back-matter
  resource that says so (OSCAL requires the import; a fragment is a valid URI reference).

``render_catalog``: one OSCAL catalog with one group per rule target kind (a control per rule)
and one group per framework (a control per requirement, with its statement, its assessment
objective and links to the rule controls that meet it), and one OSCAL profile per framework
selecting its requirements and the rules they use; each selected rule control gets, through
``modify.alters``, one ``requirement`` prop per requirement of the framework it meets.

Deterministic: uuids are uuid5 of the assessment's uuid (or the catalog digest) and stable
keys, times are the assessment's own, and trestle serialises the models in field order.
Text from targets goes into the models as data and is serialised by the library; OSCAL
single-line fields (titles, prop values) get line breaks replaced by spaces.
"""

from assessor.export.oscal.base import NS, objective_id, requirement_token, token
from assessor.export.oscal.catalog import render_catalog
from assessor.export.oscal.results import render_assessment_results

__all__ = [
    "NS",
    "objective_id",
    "render_assessment_results",
    "render_catalog",
    "requirement_token",
    "token",
]
