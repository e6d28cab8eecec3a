"""Reading IAM Identity Center (the ``identitystore`` API) into plain values for the snapshot.

Identity Center is the source of truth for users and their groups; the Host never writes to
it. Every sync reads the users, the groups and each group's members (one ``ListGroupMemberships``
per group: there are far fewer groups than users), and the snapshot keeps the result. The calls
run one after another in a worker thread, so a sync costs one thread hop, not one per page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aesp.core.errors import ConfigurationError
from aesp_aws._aws import Aws

_PAGE = 100  # the identitystore maximum for MaxResults


@dataclass(frozen=True, slots=True)
class IdcUser:
    """An Identity Center user as the snapshot keeps it.

    Attributes:
        user_id: The identity store's UserId.
        user_name: The unique UserName (the principal id is the configured prefix + this).
        display_name: DisplayName, else the UserName.
        groups: Display names of the user's groups, sorted (the Host maps them to roles).
    """

    user_id: str
    user_name: str
    display_name: str
    groups: tuple[str, ...]


def read_users(client: Any, identity_store_id: str, prefix: str) -> dict[str, IdcUser]:
    """Every user of the store with their groups, keyed by principal id (blocking: run in a
    worker thread)."""
    groups: dict[str, str] = {
        g["GroupId"]: str(g.get("DisplayName") or g["GroupId"])
        for g in _pages(client, "list_groups", "Groups", IdentityStoreId=identity_store_id)
    }
    member_of: dict[str, set[str]] = {}
    for group_id, group_name in groups.items():
        for membership in _pages(
            client,
            "list_group_memberships",
            "GroupMemberships",
            IdentityStoreId=identity_store_id,
            GroupId=group_id,
        ):
            user_id = membership.get("MemberId", {}).get("UserId")
            if user_id:
                member_of.setdefault(user_id, set()).add(group_name)
    users: dict[str, IdcUser] = {}
    for user in _pages(client, "list_users", "Users", IdentityStoreId=identity_store_id):
        name = str(user["UserName"])
        users[prefix + name] = IdcUser(
            user_id=str(user["UserId"]),
            user_name=name,
            display_name=str(user.get("DisplayName") or name),
            groups=tuple(sorted(member_of.get(user["UserId"], ()), key=str.casefold)),
        )
    return users


async def discover_store(aws: Aws) -> str:
    """The IdentityStoreId of the account's Identity Center instance (``sso-admin``).

    Raises:
        ConfigurationError: ``INVALID_CONFIG``: The account has no Identity Center instance.
    """
    reply = await aws.call("sso-admin", "list_instances")
    for instance in reply.get("Instances", []):
        store = instance.get("IdentityStoreId")
        if store and instance.get("Status", "ACTIVE") == "ACTIVE":
            return str(store)
    raise ConfigurationError(
        "INVALID_CONFIG",
        "[adapters.aws] identity_store_id is empty and this account has no active IAM Identity "
        "Center instance; set identity_store_id to your store's id (d-...), or to 'off' to keep "
        "principals in DynamoDB only.",
    )


def _pages(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[Any]:
    token = ""
    while True:
        extra = {"NextToken": token} if token else {}
        reply = getattr(client, operation)(MaxResults=_PAGE, **kwargs, **extra)
        yield from reply.get(result_key, [])
        token = reply.get("NextToken", "")
        if not token:
            return
