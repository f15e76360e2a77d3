"""What the user set for collection: image limits, registry access and registry checks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from assessor.collectors.limits import Limits

DEFAULT_TIMEOUT = 30.0
DEFAULT_IMAGE_CACHE_DAYS = 7


DEFAULT_SSH_TIMEOUT = 15.0


@dataclass(frozen=True)
class SshSettings:
    """How an ssh:// or engine:ssh:// target logs in: a known_hosts file (None:
    ~/.ssh/known_hosts), a private key file (None: the ssh agent and ~/.ssh's default keys),
    the seconds allowed to connect, and again to log in and reach the engine's socket, and
    for each read or command there; and whether an ssh:// host is read with sudo."""

    known_hosts: str | None = None
    key: str | None = None
    timeout: float = DEFAULT_SSH_TIMEOUT
    # ssh:// targets: run commands, and the SFTP server, with sudo -n (every target; one
    # target asks with ?sudo=1)
    sudo: bool = False

    def with_key(self, key: str) -> SshSettings:
        """These settings, logging in with the key file ``key`` when one is given (a host's
        own key from an inventory, which Ansible also prefers to the command line's)."""
        return replace(self, key=key) if key else self


@dataclass
class CollectOptions:
    """Options the collectors share: how images are read and how registries are reached."""

    limits: Limits = field(default_factory=Limits)
    # an engine's image read within this many days is not exported again (image.cache); 0:
    # every image is read again
    image_cache_days: int = DEFAULT_IMAGE_CACHE_DAYS
    platform: str = "linux/amd64"
    # registry access (image:docker:// and registry: targets)
    insecure: bool = False
    creds: str | None = None
    authfile: str | None = None
    cert_dir: str | None = None
    timeout: float = DEFAULT_TIMEOUT  # seconds per request, and per response body overall
    # registry: targets
    deep: bool = False  # every tag's image through the image reader
    max_images: int = 20  # bound on --deep
    max_tags: int = 1000  # tags whose manifest and config are read (age, signatures)
    push_probe: bool = True  # start (and cancel) an anonymous blob upload
    stale_days: int = 90  # a tag's image older than this is stale (SP 800-190 4.2.2)
    ssh: SshSettings = field(default_factory=lambda: SshSettings())  # engine:ssh:// targets
