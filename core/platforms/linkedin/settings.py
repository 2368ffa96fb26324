"""LinkedIn's [platforms.linkedin] section: the keys every platform has, and one of its own."""

from __future__ import annotations

from core.platforms.settings import PlatformSettings


class LinkedInSettings(PlatformSettings):
    # The app holds r_member_social (approved partners only), so a lost create-post answer can be
    # resolved by listing the member's posts instead of ending as "may have been published".
    can_list_posts: bool = False


SETTINGS = LinkedInSettings
