"""``/v2/<name>/referrers/<digest>``: an OCI index of the manifests whose subject is
``digest``, optionally filtered by ``artifactType`` (then ``OCI-Filters-Applied``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wasmhub.oci.media_types import MediaType
from wasmhub.registry.base import endpoint, in_thread, json_response, path_param
from wasmhub.registry.service import RegistryService


def routes(service: RegistryService) -> list[Route]:
    @endpoint
    async def referrers(request: Request) -> Response:
        repository = path_param(request, "name")
        digest = path_param(request, "digest")
        artifact_type = request.query_params.get("artifactType") or None
        result = await in_thread(service.referrers, repository, digest, artifact_type)
        index = {
            "schemaVersion": 2,
            "mediaType": MediaType.OCI_INDEX.value,
            "manifests": [d.to_json() for d in result.descriptors],
        }
        headers = {"OCI-Filters-Applied": "artifactType"} if result.filtered_by else {}
        return json_response(index, headers, media_type=MediaType.OCI_INDEX.value)

    return [Route("/{name:path}/referrers/{digest}", referrers, methods=["GET"])]
