"""The image collector: config, history and every layer of an image, streamed, never extracted.

Transports use skopeo's names: ``docker-archive:PATH[:REF]``, ``oci:DIR[:TAG]``,
``docker-daemon:NAME:TAG`` and ``docker://HOST/REPO:TAG``. One target may hold several
images (a ``docker save`` of many, an OCI layout with many tags); each is one resource.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assessor import jsonsafe
from assessor.collectors.base import Collector
from assessor.collectors.image.analyze import (
    ImageContent,
    image_content,
    image_evidence,
    named_evidence,
)
from assessor.collectors.image.archive import open_archive, read_archive
from assessor.collectors.image.layout import read_layout
from assessor.collectors.image.resolve import Platform, resolve
from assessor.collectors.image.stream import Budget, short
from assessor.collectors.options import CollectOptions
from assessor.errors import CollectorError, ImageError, TargetError
from assessor.evidence import Evidence
from assessor.targets import DEFAULT_DOCKER_SOCKET, Target, parse_target

if TYPE_CHECKING:
    import httpx

    from assessor.collectors.image.archive import ArchiveImage
    from assessor.collectors.image.cache import ImageCache
    from assessor.collectors.image.registry import RegistryClient
    from assessor.collectors.options import CollectOptions


def collection_error(target: str, resource: str, message: str) -> Evidence:
    """A resource that could not be read: every rule on it reports ``error`` with the message."""
    data = {"collection_error": jsonsafe.escape(message), "reference": resource}
    return Evidence("image", target, resource, data)


def split_ref(location: str) -> tuple[str, str | None]:
    """``PATH[:REF]`` as skopeo splits it: at the first colon."""
    path, sep, ref = location.partition(":")
    return path, (ref or None) if sep else None


def _archive_evidence(
    target: str, prefix: str, images: list[ArchiveImage], ref: str | None, options: CollectOptions
) -> Iterator[Evidence]:
    chosen = images
    if ref is not None:
        chosen = [i for i in images if ref in i.repo_tags]
        if not chosen and len(images) == 1 and not images[0].repo_tags:
            chosen = images
        if not chosen:
            tags = ", ".join(t for i in images for t in i.repo_tags)[:300] or "none"
            raise ImageError(f"{target}: no image tagged {ref!r} in the archive (tags: {tags})")
    for img in chosen:
        name = (
            ref if ref is not None else (img.repo_tags[0] if img.repo_tags else img.config_digest)
        )
        yield image_evidence(
            target=target,
            resource=f"{prefix}:{name}",
            transport=prefix.partition(":")[0],
            config=img.config,
            config_digest=img.config_digest,
            manifest_digest=None,
            scans=img.scans,
            limits=options.limits,
            repo_tags=img.repo_tags,
        )


def engine_export(
    client: httpx.Client, target: str, images: list[dict[str, Any]], options: CollectOptions
) -> list[ArchiveImage] | None:
    """Every image of ``images`` from one export of the engine; None when there is none, or
    when the export failed on an image (engine_images then reads them one at a time)."""
    from assessor.collectors.image.daemon import export

    ids = [str(i["Id"]) for i in images if isinstance(i.get("Id"), str)]
    if not ids:
        return None
    try:
        return export(client, ids, options.limits, f"{target}: image export")
    except ImageError:
        return None


def engine_images(
    client: httpx.Client,
    target: str,
    known: EngineImages,
    options: CollectOptions,
    exported: list[ArchiveImage] | None,
) -> Iterator[Evidence]:
    """Every local image of an engine: those ``known`` read before (by image ID), the others
    from their one export (``engine_export`` of ``known.unread``); a bad image is an error on
    its own."""
    from assessor.collectors.image.daemon import export

    by_id = {img.config_digest: img for img in exported or []}
    for info in known.images:
        image_id = info.get("Id")
        if not isinstance(image_id, str):
            continue
        resource, tags = _engine_name(info)
        content = known.contents.get(image_id)
        if content is None:
            img = by_id.get(image_id)
            try:
                if img is None:  # the one export failed: this image alone, so the bad one is named
                    (img,) = export(client, [image_id], options.limits, f"{target}: {resource}")
                content = _engine_content(img, resource, options)
            except ImageError as e:
                yield collection_error(target, resource, e.message)
                continue
            known.keep(image_id, content)
        yield named_evidence(content, target=target, resource=resource, repo_tags=tags)


@dataclass
class EngineImages:
    """The engine's images whose content was read before (``cache``), and where to keep the
    ones read now; without a cache, none is known and nothing is kept."""

    images: list[dict[str, Any]]
    reuse: ImageCache | None = None
    contents: dict[str, ImageContent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reuse is None:
            return
        for info in self.images:
            image_id = info.get("Id")
            if isinstance(image_id, str) and image_id not in self.contents:
                found = self.reuse.get(image_id)
                if found is not None:
                    self.contents[image_id] = found

    @property
    def unread(self) -> list[dict[str, Any]]:
        """The images to export: those not read before."""
        return [i for i in self.images if i.get("Id") not in self.contents]

    def keep(self, image_id: str, content: ImageContent) -> None:
        if self.reuse is not None:
            self.reuse.put(image_id, content)


def _engine_name(info: dict[str, Any]) -> tuple[str, list[str]]:
    """The resource name of an engine's image (its first tag, else its ID), and its tags."""
    tags = [t for t in info.get("RepoTags") or [] if isinstance(t, str) and t != "<none>:<none>"]
    return f"docker-daemon:{sorted(tags)[0] if tags else info['Id']}", tags


def _engine_content(img: ArchiveImage, resource: str, options: CollectOptions) -> ImageContent:
    return image_content(
        transport="docker-daemon",
        config=img.config,
        config_digest=img.config_digest,
        manifest_digest=None,
        scans=img.scans,
        limits=options.limits,
        where=resource,
    )


def _annotations(manifest: dict[str, Any]) -> dict[str, Any]:
    found = manifest.get("annotations")
    return found if isinstance(found, dict) else {}


class ImageCollector(Collector):
    kinds = frozenset({"image"})

    def __init__(self, options: CollectOptions | None = None) -> None:
        self.options = options or CollectOptions()
        self._identity: dict[str, Any] = {}

    def identity(self) -> dict[str, Any]:
        return self._identity

    def collect(self, target: Target) -> Iterator[Evidence]:
        transport = target.scheme
        images: list[dict[str, Any]] = []
        self._identity = {"transport": transport, "reference": target.location, "images": images}
        collect = {
            "docker-archive": self._archive,
            "oci": self._layout,
            "docker-daemon": self._daemon,
            "docker": self._registry,
        }[transport]
        try:
            evidence = list(collect(target))
        except CollectorError as e:
            # messages name members and files, whose names are bytes: escape what is not UTF-8
            e.message = jsonsafe.escape(e.message)
            raise
        failed = [e for e in evidence if "collection_error" in e.data]
        if failed and len(failed) == len(evidence) == 1:
            # one image, unreadable: the target's error, named as the user wrote the target
            message, resource = str(failed[0].data["collection_error"]), failed[0].resource
            if message.startswith(resource):
                message = str(target) + message[len(resource) :]
            elif not message.startswith(str(target)):
                message = f"{target}: {message}"
            raise ImageError(message)
        images.extend(
            {k: ev.data.get(k) for k in ("reference", "id", "digest", "platform")}
            for ev in evidence
        )
        yield from evidence

    def _archive(self, target: Target) -> Iterator[Evidence]:
        path, ref = split_ref(target.location)
        with open_archive(path, self.options.limits, str(target)) as f:
            images = read_archive(f.read, self.options.limits, str(target))
        yield from _archive_evidence(
            str(target), f"docker-archive:{path}", images, ref, self.options
        )

    def _layout(self, target: Target) -> Iterator[Evidence]:
        root, tag = split_ref(target.location)
        platform = Platform.parse(self.options.platform)
        for item in read_layout(root, tag, platform, self.options.limits, str(target)):
            if isinstance(item, ImageError):
                yield collection_error(str(target), f"oci:{root}:{tag or '?'}", item.message)
                continue
            r = item.resolved
            resource = f"oci:{root}:{item.name}"
            try:
                yield image_evidence(
                    target=str(target),
                    resource=resource,
                    transport="oci",
                    config=r.config,
                    config_digest=r.config_digest,
                    manifest_digest=r.manifest_digest,
                    scans=item.scans,
                    limits=self.options.limits,
                    platform=r.platform,
                    annotations=_annotations(r.manifest),
                )
            except ImageError as e:
                yield collection_error(str(target), resource, e.message)

    def _daemon(self, target: Target) -> Iterator[Evidence]:
        from assessor.collectors.engine_api import engine_client
        from assessor.collectors.image.daemon import export

        host = os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_DOCKER_SOCKET}"
        engine = parse_target(f"engine:{host}")
        name = target.location
        with engine_client(engine) as client:
            images = export(client, [name], self.options.limits, str(target))
        if len(images) != 1:
            raise ImageError(f"{target}: the engine exported {len(images)} images for one name")
        yield from _archive_evidence(str(target), "docker-daemon", images, None, self.options)

    def _registry(self, target: Target) -> Iterator[Evidence]:
        from assessor.collectors.image.registry import RegistryOptions, open_image, parse_ref

        ref = parse_ref(target.location.removeprefix("//"))
        opts = self.options
        client = open_image(
            ref,
            RegistryOptions(opts.insecure, opts.creds, opts.authfile, opts.cert_dir, opts.timeout),
            opts.limits,
        )
        try:
            yield registry_image(client, str(target), opts)
        finally:
            client.close()


def registry_image(client: RegistryClient, target: str, options: CollectOptions) -> Evidence:
    """One image of a registry, read through ``client``: its manifest, config, every layer
    streamed, and the signatures attached to it. Raises ImageError when it cannot be read."""
    ref = client.ref
    what = f"docker://{ref}"
    data, digest, media = client.manifest(ref.reference)
    r = resolve(client, data, digest, media, Platform.parse(options.platform), options.limits, what)
    budget = Budget(options.limits)
    scans = [
        client.scan(d, i, budget, f"{what}: layer {i + 1} ({short(d['digest'])})")
        for i, d in enumerate(r.layers)
    ]
    signatures = client.signatures(digest)
    return image_evidence(
        target=target,
        resource=f"docker://{ref}",
        transport="docker",
        config=r.config,
        config_digest=r.config_digest,
        manifest_digest=digest,
        scans=scans,
        limits=options.limits,
        platform=r.platform,
        signatures=signatures,
        annotations=_annotations(r.manifest),
    )


__all__ = [
    "EngineImages",
    "ImageCollector",
    "TargetError",
    "collection_error",
    "engine_export",
    "engine_images",
]
