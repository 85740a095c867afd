"""The OCI wire errors: codes, statuses, the wasmhub tree and the JSON envelope."""

from __future__ import annotations

import json

from wasmhub.errors import InputError, NotFoundError, WasmhubError
from wasmhub.oci import errors as e

EXPECTED = {
    "BLOB_UNKNOWN": 404, "BLOB_UPLOAD_INVALID": 400, "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400, "MANIFEST_BLOB_UNKNOWN": 400, "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404, "NAME_INVALID": 400, "NAME_UNKNOWN": 404, "SIZE_INVALID": 400,
    "UNAUTHORIZED": 401, "DENIED": 403, "UNSUPPORTED": 405, "TOOMANYREQUESTS": 429,
    "RANGE_INVALID": 416,
}


def test_every_spec_code_has_a_class_with_its_status() -> None:
    found = {cls.code: cls().http_status for cls in e.ALL_ERRORS}
    assert found == EXPECTED
    for cls in e.ALL_ERRORS:
        assert issubclass(cls, WasmhubError)


def test_errors_join_the_wasmhub_tree() -> None:
    assert isinstance(e.BlobUnknown(), NotFoundError)
    assert isinstance(e.ManifestUnknown(), NotFoundError)
    assert isinstance(e.NameInvalid(), InputError)
    assert isinstance(e.RangeInvalid(), InputError)


def test_envelope_and_status_override() -> None:
    err = e.SizeInvalid("too big", detail={"limit": 10}, status=413)
    assert err.http_status == 413 and e.SizeInvalid().http_status == 400
    body = json.loads(e.error_envelope(err, e.BlobUnknown()))
    assert body == {
        "errors": [
            {"code": "SIZE_INVALID", "message": "too big", "detail": {"limit": 10}},
            {"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": {}},
        ]
    }
