"""Images: headers checked without decoding the pixels; decompression bombs refused; metadata stripped."""

from __future__ import annotations

import io
import warnings
from typing import IO

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile

from .base import JPEG, KINDS, PNG, UploadRejected


def inspect_image(stream: IO[bytes], content_type: str) -> None:
    from PIL import Image

    expected = "PNG" if content_type == PNG else "JPEG"
    label = KINDS[content_type].label
    limit = Image.MAX_IMAGE_PIXELS or 89_478_485
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            # Between one and two times the limit Pillow only warns.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream, formats=[expected]) as image:
                width, height = image.size
                if width * height > limit:
                    raise UploadRejected("image_too_large", limit=limit // 10_000)
                # Reads the structure (PNG chunk checksums) without decoding the pixels.
                image.verify()
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UploadRejected("image_too_large", limit=limit // 10_000) from error
    except Exception as error:
        raise UploadRejected("image_unreadable", format=label) from error


def without_metadata(upload: UploadedFile, content_type: str) -> UploadedFile:
    """A photo re-encoded without its metadata, turned upright first.

    Phone photos carry EXIF: where and when they were taken and with which
    device. An anonymous reporter's photo must not say where they stood,
    and no department needs any of it, so no photo is kept with it. Call it
    only on a photo that ``check_upload`` accepted: that check has already
    refused decompression bombs.
    """
    from PIL import Image, ImageOps

    upload.seek(0)
    buffer = io.BytesIO()
    with Image.open(upload) as image:
        upright = ImageOps.exif_transpose(image)
        if content_type == JPEG:
            upright.save(buffer, format="JPEG", quality=92)
        else:
            upright.save(buffer, format="PNG")
    return SimpleUploadedFile(str(upload.name or ""), buffer.getvalue(), content_type=content_type)
