"""Time zones: ``/timezone`` (a member's, or the team's default) and the zones offered while one is
typed. The zone a command is read in is ``ServiceBase.timezone_for``.
"""

from __future__ import annotations

from core.domain import ChatContext
from core.errors import PermissionDenied
from core.service.base import ServiceBase
from core.store import teams
from core.zones import resolve_zone
from core.zones import zone_choices as _zone_choices


def zone_choices(current: str) -> list[str]:
    """IANA zones matching what someone is typing, for a chat's autocomplete."""
    return _zone_choices(current)


class Timezones(ServiceBase):
    async def set_timezone(self, ctx: ChatContext, text: str, *, team_wide: bool = False) -> str:
        """`/timezone <zone>`: the zone your times are read and shown in (Discord tells bots none).

        ``team_wide`` sets the team's default instead (admins only). Returns the IANA name.
        """
        zone = resolve_zone(text)
        if team_wide and not ctx.is_admin:
            raise PermissionDenied("Only an admin can set the server's time zone.")
        async with self.sessions.begin() as session:
            await teams.set_zone(
                session, ctx, zone, team_wide=team_wide, default_tz=self.settings.default_timezone
            )
        return zone
