"""Emulator endpoints: see the module docstring of `http` for how they are mounted."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from garmin_emulator.http import BadRequest, athlete_of, handled, iso_date
from garmin_emulator.wellness_fit import wellness_zip

ZIP_TYPE = "application/x-zip-compressed"


@handled
def wellness_download(request: Request) -> Response:
    """GET /download-service/files/wellness/{date}: the day's wellness FIT files, zipped."""
    athlete = athlete_of(request)
    day = iso_date(request.path_params.get("day"), "date")
    if not athlete.in_history(day):
        raise BadRequest(404, f"No wellness data for {day}")
    return Response(
        wellness_zip(athlete, day),
        media_type=ZIP_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{day}.zip"'},
    )


ROUTES: list[Route] = [
    Route("/download-service/files/wellness/{day}", wellness_download, methods=["GET"]),
]
