"""What the Cloudinary provider and its stand-in must agree on, as Cloudinary documents it: how requests and
notifications are signed, the eager transformations the service asks for, and which of its files each one is.

Signatures (https://cloudinary.com/documentation/authentication_signatures): every parameter sent except
file, cloud_name, resource_type and api_key, with a value, as `name=value` sorted and joined with `&` (an `&`
inside a value is sent as `%26`, Cloudinary's "signature version 2"), then the API secret appended, hashed
with SHA-1 (hex). Notifications (https://cloudinary.com/documentation/notification_signatures): the body as
sent, then X-Cld-Timestamp, then the secret, hashed the same way."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.core.media_storage import SIZED, SOURCE, PictureSize, source_key

UNSIGNED = frozenset({"file", "cloud_name", "resource_type", "api_key", "signature"})
SIGNATURE_SECONDS = 3600  # Cloudinary refuses a signed request older than an hour ("Stale request")
# Cloudinary takes chunks of at least 5 MB but the last (its SDKs send 20 MB): 6 MB fits a 3G link's minute.
CHUNK_BYTES = 6 * 1024 * 1024
MIN_CHUNK_BYTES = 5 * 1024 * 1024


def string_to_sign(params: Mapping[str, str]) -> str:
    pairs = (f"{name}={value}".replace("&", "%26") for name, value in params.items()
             if value and name not in UNSIGNED)
    return "&".join(sorted(pairs))


def api_sign(params: Mapping[str, str], api_secret: str) -> str:
    """The `signature` of a signed Upload API request."""
    return hashlib.sha1((string_to_sign(params) + api_secret).encode()).hexdigest()


def notification_signature(body: bytes, timestamp: str, api_secret: str) -> str:
    """The X-Cld-Signature Cloudinary sends with a notification."""
    return hashlib.sha1(body + timestamp.encode() + api_secret.encode()).hexdigest()


def delivery_signature(path: str, api_secret: str) -> str:
    """The `s--…--` component of a signed delivery URL (https://cloudinary.com/documentation/
    control_access_to_media#signed_delivery_urls): SHA-1 of what follows it in the URL (transformation, then
    public id and format, no version) and the secret, URL-safe base64, its first 8 characters."""
    digest = base64.urlsafe_b64encode(hashlib.sha1((path + api_secret).encode()).digest()).decode()
    return f"s--{digest[:8]}--"


def response_signature(public_id: str, version: int, api_secret: str) -> str:
    """The `signature` of an upload's answer (https://cloudinary.com/documentation/response_signatures)."""
    return api_sign({"public_id": public_id, "version": str(version)}, api_secret)


@dataclass(frozen=True)
class Made:
    """One file the service names (as media.processing does), made by an eager transformation."""

    name: str  # "360p", "720p", "poster", "preview", "photo"
    transformation: str  # Cloudinary's URL syntax, without the format
    extension: str  # the format Cloudinary is asked for, and the delivered file's extension
    content_type: str

    @property
    def eager(self) -> str:
        return f"{self.transformation}/{self.extension}"

    @property
    def file_name(self) -> str:
        """The service's key for it is `<upload id>/<file_name>` (gateway.core.media_storage.file_key)."""
        return f"{self.name}.{self.extension}"


# c_limit: at most this box, never made bigger; a box, not a height, so a phone filmed upright keeps 360 pixels
# across. vc_h264/ac_aac/f_mp4 play everywhere; br_ holds the 360p to ~600 kbit/s as media.processing does.
CLIP_FILES = (
    Made("360p", "c_limit,w_640,h_640,vc_h264:main,ac_aac,br_600k", "mp4", "video/mp4"),
    Made("720p", "c_limit,w_1280,h_1280,vc_h264:main,ac_aac,br_1900k", "mp4", "video/mp4"),
    Made("poster", "c_limit,w_640,h_640,so_auto", "jpg", "image/jpeg"),
    Made("preview", "c_limit,w_640,h_640,du_6,ac_none,vc_h264:main,br_600k", "mp4", "video/mp4"),
)
PHOTO_FILES = (Made("photo", "c_limit,w_1280,h_1280,q_auto", "jpg", "image/jpeg"),)
FILES = {"video": CLIP_FILES, "image": PHOTO_FILES}
RESOURCE_TYPES = {"clip": "video", "photo": "image"}
ALLOWED_FORMATS = {"video": "mp4,mov,webm,3gp,mkv", "image": "jpg,png,webp,heic"}


def transformation_parts(transformation: str) -> tuple[frozenset[str], ...]:
    """A transformation as sets of its components' parameters: Cloudinary may answer them in another order."""
    return tuple(frozenset(part.split(",")) for part in transformation.strip("/").split("/") if part)


def made_for(resource_type: str, transformation: str, extension: str | None) -> Made | None:
    """Which of the service's files an eager or derived entry is (None: not one the service asked for)."""
    steps = [part for part in transformation.strip("/").split("/") if part]
    if steps and "_" not in steps[-1]:  # answered with its format as the last step ("…/mp4")
        extension = steps.pop()
    wanted = transformation_parts("/".join(steps))
    for made in FILES.get(resource_type, ()):
        if transformation_parts(made.transformation) == wanted and extension in (None, made.extension):
            return made
    return None


def eager_of(resource_type: str) -> str:
    """The `eager` upload parameter: the transformations, `|`-separated, each with its format."""
    return "|".join(made.eager for made in FILES[resource_type])


def made_named(resource_type: str, file_name: str) -> Made | None:
    return next((made for made in FILES.get(resource_type, ()) if made.file_name == file_name), None)


def sized_transformation(resource_type: str, transformation: str, size: PictureSize) -> str | None:
    """The transformation of a photo or a poster (its Made's) made at `size` (a tile: filled to a square from its
    middle; a photo: scaled to the width), at an automatic quality; None for any other transformation."""
    made = next((m for m in FILES.get(resource_type, ()) if m.transformation == transformation), None)
    if made is None or made.file_name not in SIZED:
        return None
    kept = [part for part in transformation.split(",") if part.split("_")[0] not in ("c", "w", "h", "q")]
    box = f"c_fill,w_{size.width},h_{size.width}" if size.square else f"c_limit,w_{size.width}"
    return ",".join([box, *kept, "q_auto"])


PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$")  # no dots: never a path out of a folder


# A taken-down upload's source is renamed to `<upload id>/withheld` (media.cloudinary.CloudinaryStorage.withhold):
# every URL handed out before names `<upload id>/source` and finds nothing. The service never signs a URL of this
# name and the file is `authenticated` meanwhile, so nobody can fetch it under its new name either.
WITHHELD = "withheld"


def withheld_key(upload_id: str) -> str:
    return f"{upload_id}/{WITHHELD}"


def upload_of(public_id: str) -> str | None:
    """The service's upload id of a public id it chose (`<upload id>/source`); None for any other."""
    upload_id, _, rest = public_id.partition("/")
    try:
        canonical = str(uuid.UUID(upload_id))
    except ValueError:
        return None
    return canonical if rest == SOURCE and source_key(canonical) == public_id else None
