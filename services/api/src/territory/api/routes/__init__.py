"""One APIRouter per resource, assembled in `territory.api.app`."""
