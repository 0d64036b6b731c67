"""Dataset uploads: checked, parsed like a run would, previewed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile

from scaler_wizard.server.deps import ServicesDep, TokenRequired
from scaler_wizard.server.routes.responses import REFUSALS
from scaler_wizard.server.schemas import DatasetInfo, ErrorBody
from scaler_wizard.server.uploads import list_uploads, save_upload

router = APIRouter(
    prefix="/api/datasets", tags=["datasets"], dependencies=[TokenRequired], responses=REFUSALS
)
UPLOAD_REFUSALS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "Larger than the upload limit."},
    415: {"model": ErrorBody, "description": "A file type runs cannot read."},
}


@router.post("", status_code=201, responses=UPLOAD_REFUSALS)
def upload_dataset(
    services: ServicesDep,
    file: Annotated[UploadFile, File(description=".jsonl .json .csv .tsv .parquet .txt .md")],
) -> DatasetInfo:
    """Store a data file under uploads/ and preview its records; use `path` as data.train.

    Refused with the reason: too large (413), wrong type (415), content that does not match
    its extension or has no usable record (422).
    """
    return save_upload(services.settings, file.file, file.filename or "upload")


@router.get("")
def get_datasets(services: ServicesDep) -> list[DatasetInfo]:
    return list_uploads(services.settings)
