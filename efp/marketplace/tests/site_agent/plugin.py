"""A small deterministic backend for Waldur's site agent, used by the end-to-end tests.

Accounts live in a JSON file (`backend_settings.state_file`), so what the agent did in one process can be
read by the test in another. Usage is fixed: every account reports `backend_settings.usage_per_user`
({username: {component: amount}}) and their sum as the account total. A new account reports metadata and
the access endpoints `backend_settings.endpoints` ([{name, url}]).

The agent finds this class through the `waldur_site_agent.backends` entry point that the test harness
declares in a throwaway `*.dist-info` directory (see harness.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from waldur_api_client.models.resource import Resource as WaldurResource
from waldur_site_agent.backend.backends import BaseBackend
from waldur_site_agent.backend.clients import BaseClient
from waldur_site_agent.backend.structures import Association, BackendResourceInfo, ClientResource


class FileClient(BaseClient):
    """Accounts as JSON: {name: {description, organization, limits, users}}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        accounts: dict[str, dict[str, Any]] = json.loads(self.path.read_text())
        return accounts

    def _save(self, accounts: dict[str, dict[str, Any]]) -> None:
        self.path.write_text(json.dumps(accounts, indent=2, sort_keys=True))

    def list_resources(self) -> list[ClientResource]:
        return [
            ClientResource(name=name, description=data["description"], organization=data["organization"])
            for name, data in sorted(self._load().items())
        ]

    def get_resource(self, resource_id: str) -> ClientResource | None:
        data = self._load().get(resource_id)
        if data is None:
            return None
        return ClientResource(
            name=resource_id, description=data["description"], organization=data["organization"]
        )

    def create_resource(
        self, name: str, description: str, organization: str, parent_name: str | None = None
    ) -> str:
        accounts = self._load()
        accounts[name] = {"description": description, "organization": organization, "limits": {}, "users": []}
        self._save(accounts)
        return name

    def delete_resource(self, name: str) -> str:
        accounts = self._load()
        accounts.pop(name, None)
        self._save(accounts)
        return name

    def set_resource_limits(self, resource_id: str, limits_dict: dict[str, int]) -> str | None:
        accounts = self._load()
        accounts[resource_id]["limits"] = dict(limits_dict)
        self._save(accounts)
        return None

    def get_resource_limits(self, resource_id: str) -> dict[str, int]:
        limits: dict[str, int] = self._load()[resource_id]["limits"]
        return limits

    def get_resource_user_limits(self, resource_id: str) -> dict[str, dict[str, int]]:
        return {}

    def set_resource_user_limits(self, resource_id: str, username: str, limits_dict: dict[str, int]) -> str:
        return ""

    def get_association(self, user: str, resource_id: str) -> Association | None:
        account = self._load().get(resource_id)
        if account is None or user not in account["users"]:
            return None
        return Association(account=resource_id, user=user)

    def create_association(self, username: str, resource_id: str, default_account: str | None = None) -> str:
        accounts = self._load()
        users = accounts[resource_id]["users"]
        if username not in users:
            users.append(username)
        self._save(accounts)
        return username

    def delete_association(self, username: str, resource_id: str) -> str:
        accounts = self._load()
        accounts[resource_id]["users"] = [u for u in accounts[resource_id]["users"] if u != username]
        self._save(accounts)
        return username

    def get_usage_report(self, resource_ids: list[str], timezone: str | None = None) -> list[Any]:
        return []

    def list_resource_users(self, resource_id: str) -> list[str]:
        users: list[str] = self._load()[resource_id]["users"]
        return users


class FileBackend(BaseBackend):
    """Creates, resizes and deletes accounts in the state file; reports the configured usage."""

    def __init__(
        self, backend_settings: dict[str, Any], backend_components: dict[str, dict[str, Any]]
    ) -> None:
        super().__init__(backend_settings, backend_components)
        self.backend_type = "efp-test"
        self.client = FileClient(Path(backend_settings["state_file"]))

    def ping(self, raise_exception: bool = False) -> bool:
        return True

    def diagnostics(self) -> bool:
        return True

    def list_components(self) -> list[str]:
        return list(self.backend_components)

    def _get_usage_report(self, resource_backend_ids: list[str]) -> dict[str, Any]:
        per_user: dict[str, dict[str, float]] = self.backend_settings["usage_per_user"]
        report: dict[str, Any] = {}
        for backend_id in resource_backend_ids:
            if self.client.get_resource(backend_id) is None:
                continue
            total: dict[str, float] = {
                key: 0.0
                for key, spec in self.backend_components.items()
                if spec.get("accounting_type") == "usage"
            }
            for amounts in per_user.values():
                for component, amount in amounts.items():
                    total[component] = total.get(component, 0.0) + amount
            report[backend_id] = {"TOTAL_ACCOUNT_USAGE": total, **{u: dict(a) for u, a in per_user.items()}}
        return report

    def downscale_resource(self, resource_backend_id: str) -> bool:
        return False

    def pause_resource(self, resource_backend_id: str) -> bool:
        return False

    def restore_resource(self, resource_backend_id: str) -> bool:
        return False

    def get_membership_sync_report(self, waldur_resource: WaldurResource) -> list[dict[str, Any]] | None:
        """Every user of the account is synced as `member` (with `backend_settings.member_sync_report`
        true; None otherwise, as backends that cannot tell)."""
        if not self.backend_settings.get("member_sync_report"):
            return None
        users = self.client.list_resource_users(str(waldur_resource.backend_id))
        return [
            {"username": name, "scope_type": "resource", "role_name": "member", "state": "synced"}
            for name in sorted(users)
        ] + [{"username": "ghost_hpc", "scope_type": "resource", "role_name": "member", "state": "error"}]

    def get_resource_metadata(self, resource_backend_id: str) -> dict[str, Any]:
        return {}

    def _pre_create_resource(
        self, waldur_resource: WaldurResource, user_context: dict[str, Any] | None = None
    ) -> None:
        return None

    def _collect_resource_limits(
        self, waldur_resource: WaldurResource
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Limits of the configured limit components; the backend stores them times `unit_factor`."""
        requested = waldur_resource.limits.to_dict() if waldur_resource.limits else {}
        waldur_limits = {
            key: int(value)
            for key, value in requested.items()
            if self.backend_components.get(key, {}).get("accounting_type") == "limit"
        }
        backend_limits = {
            key: int(value * self.backend_components[key].get("unit_factor", 1))
            for key, value in waldur_limits.items()
        }
        return backend_limits, waldur_limits

    def post_create_resource(
        self,
        resource: BackendResourceInfo,
        waldur_resource: WaldurResource,
        user_context: dict[str, Any] | None = None,
    ) -> None:
        """Report metadata and an access endpoint, so the agent pushes both to the API."""
        resource.backend_metadata = {"created_by": "efp-test", "account": resource.backend_id}
        resource.endpoints = [dict(item) for item in self.backend_settings.get("endpoints", [])]
