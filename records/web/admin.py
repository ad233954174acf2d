"""Accounts managed by administrators in the browser: the web twin of ``records users``.

One page lists every account (active and disabled) with forms to add one, disable or enable
it, set its password, role, clearance or units. Administrators only: anyone else is refused
(403), and the refusal is logged. Each change is written to the audit log under the action the
command line uses (``user-added``, ``user-disabled``, ``user-enabled``, ``password-set``,
``user-changed``, ``user-units``), naming the administrator and the account, never a password.
An administrator cannot disable their own account or take away their own administrator role:
the last administrator would lock everyone out of this page, so it takes a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from archive.access import (
    MIN_PASSWORD,
    ROLES,
    AccessError,
    User,
    add_user,
    list_users,
    set_access,
    set_active,
    set_password,
    set_units,
    units_of,
)
from archive.store import LEVELS
from records.web.context import check_csrf, client, context, csrf_token, page_user, templates
from records.web.flash import flash, take_flash

router = APIRouter(prefix="/admin", include_in_schema=False)
NAME_LENGTH = 64  # the users table's name column


def admin_user(request: Request, user: Annotated[User, Depends(page_user)]) -> User:
    """The signed-in administrator. Anyone else is refused and it is logged; as a dependency
    this runs before the form is read, so a malformed post is refused the same way."""
    if user.role != "admin":
        context(request).audit.record(user.name, "accounts", outcome="denied",
                                      client=client(request))
        raise HTTPException(403, "accounts are managed by administrators")
    return user


Admin = Annotated[User, Depends(admin_user)]
Posted = Annotated[str, Form()]  # a field of a posted form


@router.get("/users", response_class=HTMLResponse)
def accounts_page(request: Request, admin: Admin) -> Response:
    return _page(request, admin, notice=take_flash(request))


def _page(request: Request, admin: User, *, notice: str = "", error: str = "",
          status_code: int = 200) -> Response:
    catalog = context(request).catalog
    accounts = [(user, active, units_of(catalog, user.name))
                for user, active in list_users(catalog, disabled=True)]
    return templates.TemplateResponse(request, "admin_users.html", {
        "user": admin, "csrf": csrf_token(request), "accounts": accounts, "roles": ROLES,
        "levels": LEVELS, "min_password": MIN_PASSWORD, "flash": notice, "error": error},
        status_code=status_code)


def _changed(request: Request, admin: User, csrf: str, change: Callable[[], str]) -> Response:
    """Run ``change`` for a form: back to the list (303) with what it did said once, or the
    list again with the reason it could not (400), in one line, not a server error."""
    check_csrf(request, csrf)
    try:
        said = change()
    except AccessError as exc:
        return _page(request, admin, error=exc.reason, status_code=400)
    flash(request, said)
    return RedirectResponse("/admin/users", status_code=303)


def _audit(request: Request, admin: User, action: str, **detail: Any) -> None:
    context(request).audit.record(admin.name, action, client=client(request), **detail)


def _not_yourself(request: Request, admin: User, name: str, action: str, why: str) -> None:
    """Fail closed on a change that would lock the administrator out: refused and logged."""
    if name == admin.name:
        _audit(request, admin, action, target=name, outcome="refused")
        raise AccessError(why)


def _new_name(name: str) -> str:
    """An account's name as typed, checked where the library takes any string: it is shown in
    pages, listings and the audit log, and stored in a column of 64 characters."""
    name = name.strip()
    if not name or len(name) > NAME_LENGTH or not name.isprintable():
        raise AccessError(f"a name is 1 to {NAME_LENGTH} printable characters")
    return name


@router.post("/users")
def add_account(request: Request, admin: Admin, name: Posted, role: Posted, clearance: Posted,
                password: Posted, units: Posted = "", csrf: Posted = "") -> Response:
    def add() -> str:
        catalog = context(request).catalog
        user = add_user(catalog, _new_name(name), role, clearance, password)
        _audit(request, admin, "user-added", target=user.name, role=user.role,
               clearance=user.clearance_name)
        said = f"added {user.name} ({user.role}, cleared {user.clearance_name})"
        if not units.strip():
            return said
        try:
            assigned = set_units(catalog, user.name, units.split(","))
        except AccessError as exc:
            raise AccessError(f"{said}, but not its units: {exc.reason}") from None
        _audit(request, admin, "user-units", target=user.name, units=list(assigned))
        return f"{said}, working for {', '.join(assigned)}"

    return _changed(request, admin, csrf, add)


@router.post("/users/disable")
def disable_account(request: Request, admin: Admin, name: Posted, csrf: Posted = "") -> Response:
    def disable() -> str:
        _not_yourself(request, admin, name, "user-disabled",
                      "you cannot disable your own account; another administrator can")
        set_active(context(request).catalog, name, active=False)
        _audit(request, admin, "user-disabled", target=name)
        return f"{name} disabled: signed out everywhere, its tokens revoked"

    return _changed(request, admin, csrf, disable)


@router.post("/users/enable")
def enable_account(request: Request, admin: Admin, name: Posted, csrf: Posted = "") -> Response:
    def enable() -> str:
        set_active(context(request).catalog, name, active=True)
        _audit(request, admin, "user-enabled", target=name)
        return f"{name} enabled (its old tokens stay revoked)"

    return _changed(request, admin, csrf, enable)


@router.post("/users/password")
def password_form(request: Request, admin: Admin, name: Posted, password: Posted,
                  csrf: Posted = "") -> Response:
    def set_new() -> str:
        set_password(context(request).catalog, name, password)
        _audit(request, admin, "password-set", target=name)
        return f"password of {name} set; its sign-ins ended"

    return _changed(request, admin, csrf, set_new)


@router.post("/users/access")
def access_form(request: Request, admin: Admin, name: Posted, role: Posted, clearance: Posted,
                csrf: Posted = "") -> Response:
    def change() -> str:
        if role != "admin":
            _not_yourself(request, admin, name, "user-changed",
                          "you cannot take away your own administrator role; another "
                          "administrator can")
        user = set_access(context(request).catalog, name, role, clearance)
        _audit(request, admin, "user-changed", target=name, role=user.role,
               clearance=user.clearance_name)
        return f"{name} is now {user.role}, cleared {user.clearance_name}"

    return _changed(request, admin, csrf, change)


@router.post("/users/units")
def units_form(request: Request, admin: Admin, name: Posted, units: Posted = "",
               csrf: Posted = "") -> Response:
    def assign() -> str:
        assigned = set_units(context(request).catalog, name, units.split(","))
        _audit(request, admin, "user-units", target=name, units=list(assigned))
        return f"{name} works for {', '.join(assigned) or 'no unit'}"

    return _changed(request, admin, csrf, assign)
