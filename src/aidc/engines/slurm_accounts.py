"""Slurm accounts in step with aidc projects, through ``sacctmgr``.

The tree is ``root > <organisation> > <project>``, the project's account carrying the
project's fair-share shares, and an association for each Unix user that submits under the
project (the aidc service user, or the organisation's user). ``ensure`` runs at launch and
only calls sacctmgr for what the cache does not know yet; ``sync`` adds and updates all.
Needs sacctmgr rights to add accounts and users: Slurm AdminLevel=Operator (or Admin) for the
aidc service user, or coordinator of the organisation accounts (a coordinator may add
sub-accounts and users under its accounts, but not top-level accounts).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from aidc.engines.slurm_cli import SlurmCli, SlurmError

# Slurm account names: lower case, no spaces or commas (sacctmgr lower-cases them anyway).
_BAD = re.compile(r"[^a-z0-9_.-]")
DEFAULT_ORGANISATION = "aidc"


def account_name(name: str) -> str:
    """The Slurm account for an aidc project or organisation name."""
    return _BAD.sub("_", name.lower()) or DEFAULT_ORGANISATION


class SlurmAccounts:
    def __init__(self, cli: SlurmCli) -> None:
        self.cli = cli
        self._lock = threading.Lock()
        # account -> parent; (account, user) associations; account -> fairshare.
        self._parents: dict[str, str] = {}
        self._users: set[tuple[str, str]] = set()
        self._shares: dict[str, str] = {}
        self._loaded = False

    def refresh(self) -> None:
        out = self.cli.run(
            ["sacctmgr", "-n", "-P", "show", "assoc", "format=account,user,parentname,fairshare"],
            check_controller=False,
        )
        parents: dict[str, str] = {}
        users: set[tuple[str, str]] = set()
        shares: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.strip().split("|")
            if len(parts) < 4:
                continue
            account, user, parent, fairshare = parts[:4]
            if user:
                users.add((account, user))
            else:
                parents[account] = parent
                shares[account] = fairshare
        with self._lock:
            self._parents, self._users, self._shares = parents, users, shares
            self._loaded = True

    def ensure(
        self, project: str, organisation: str, user: str, shares: float | None = None
    ) -> str:
        """Make ``project``'s account (under its organisation's) and ``user``'s association
        exist; returns the account name for ``sbatch --account``."""
        org = account_name(organisation or DEFAULT_ORGANISATION)
        account = account_name(project)
        if not self._loaded or not self._known(account, org, user):
            self.refresh()
        with self._lock:
            have_org = org in self._parents
            have_account = account in self._parents
            have_user = (account, user) in self._users
        if not have_org:
            self._add(["add", "account", org, "parent=root", f"description={organisation}"])
        if not have_account:
            fs = [f"fairshare={_shares(shares)}"] if shares is not None else []
            self._add(["add", "account", account, f"parent={org}", *fs])
        if not have_user:
            self._add(["add", "user", user, f"account={account}"])
        if not (have_org and have_account and have_user):
            self.refresh()
        return account

    def sync(self, projects: Iterable[tuple[str, str, float]], user: str) -> None:
        """Every (project, organisation, shares): account, parent, fair share, association."""
        self.refresh()
        for project, organisation, shares in projects:
            account = self.ensure(project, organisation, user, shares)
            with self._lock:
                current = self._shares.get(account)
            if current != _shares(shares):
                self._run(["modify", "account", account, "set", f"fairshare={_shares(shares)}"])
        self.refresh()

    def _known(self, account: str, org: str, user: str) -> bool:
        with self._lock:
            return (
                org in self._parents and account in self._parents and (account, user) in self._users
            )

    def _add(self, args: list[str]) -> None:
        try:
            self._run(args)
        except SlurmError as e:
            # Added by someone else meanwhile: sacctmgr says so with exit status 1.
            if "Nothing new added" not in str(e):
                raise

    def _run(self, args: list[str]) -> None:
        self.cli.run(["sacctmgr", "-i", *args], check_controller=False)


def _shares(shares: float | None) -> str:
    """Slurm's fairshare is a positive integer."""
    return str(max(1, round(shares or 1)))
