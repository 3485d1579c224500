"""The role ladder of the manual's section 12.2 and the sentence a refusal gives."""

from __future__ import annotations

import pytest

from circman_kernel.core.errors import ParameterError, PermissionDeniedError
from circman_kernel.core.roles import ACTIONS, ROLES, allows, refusal, require, role_level


def test_levels_follow_the_manual() -> None:
    assert ROLES == {"viewer": 20, "operator": 40, "engineer": 60, "manager": 80, "admin": 100}
    assert role_level(None) == 0


@pytest.mark.parametrize(
    ("action", "lowest"),
    [
        ("runs.read", "viewer"),
        ("whatif.run", "viewer"),
        ("event.ack", "operator"),
        ("twin.input", "operator"),
        ("run.save", "engineer"),
        ("simulation.store", "engineer"),
        ("run.delete", "manager"),
        ("data.export", "manager"),
        ("user.manage", "admin"),
        ("token.create", "admin"),
    ],
)
def test_each_action_needs_its_role_and_every_higher_one_has_it(action, lowest) -> None:
    for role, level in ROLES.items():
        assert allows(role, action) is (level >= ROLES[lowest]), (role, action)
    assert ACTIONS[action].role == lowest
    assert allows(None, action) is False


def test_refusal_names_the_needed_role_and_the_session_role() -> None:
    assert refusal("engineer", "run.save") is None
    text = refusal("viewer", "run.save")
    assert (
        text
        == "To save runs you need the engineer role or higher; this session has the viewer role."
    )
    assert "nobody signed in" in refusal(None, "event.ack")
    with pytest.raises(PermissionDeniedError, match="manager role"):
        require("engineer", "run.delete")


def test_unknown_role_or_action_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="unknown role 'root'"):
        allows("root", "run.save")
    with pytest.raises(ParameterError, match="unknown action"):
        allows("admin", "run.rename")
