"""``AccountService``: sign up, sign in, web sessions, password change, disabling.

Sign-in failures never say whether the username exists (one message, one argon2
computation either way). Session cookies hold 256 random bits; the database stores
their SHA-256, plus the session's CSRF token that every state-changing form must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from wasmhub.accounts.models import SignupCode, User, WebSession
from wasmhub.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from wasmhub.authz.principal import Principal, PrincipalKind
from wasmhub.db.engine import Database
from wasmhub.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from wasmhub.orgs.models import Namespace
from wasmhub.registry.models import utcnow

USERNAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")
SIGN_IN_FAILED = "wrong username or password"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not (2 <= len(name) <= 64) or not USERNAME_RE.match(name):
        raise InputError(
            "a username is 2-64 lower-case letters, digits and single . _ - between them")
    return name


def check_password(password: str) -> str:
    if not (MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH):
        raise InputError(f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} "
                         "characters")
    return password


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    email: str
    is_admin: bool
    disabled: bool


def _info(user: User) -> UserInfo:
    return UserInfo(user.id, user.username, user.email, user.is_admin, user.disabled)


@dataclass(frozen=True)
class NewSession:
    cookie: str
    csrf_token: str
    expires_at: datetime


class AccountService:
    def __init__(self, database: Database, session_days: int = 14) -> None:
        self.db = database
        self.session_lifetime = timedelta(days=session_days)

    # -- users ----------------------------------------------------------------------

    def create_user(self, username: str, email: str, password: str, *,
                    is_admin: bool = False) -> UserInfo:
        """A new user and the namespace named like them; ConflictError when taken."""
        name = check_username(username)
        address = email.strip()
        if not EMAIL_RE.match(address):
            raise InputError("enter a valid e-mail address")
        password_hash = hash_password(check_password(password))
        with self.db.session() as session:
            taken = session.scalar(select(func.count()).select_from(Namespace)
                                   .where(Namespace.name == name))
            taken = taken or session.scalar(select(func.count()).select_from(User).where(
                (User.username == name) | (func.lower(User.email) == address.lower())))
            if taken:
                raise ConflictError("that username or e-mail address is already registered")
            user = User(username=name, email=address, password_hash=password_hash,
                        is_admin=is_admin, disabled=False)
            session.add(user)
            session.flush()
            session.add(Namespace(name=name, kind="user", owner_user_id=user.id,
                                  private=False))
            return _info(user)

    def get_user(self, username: str) -> UserInfo:
        with self.db.session() as session:
            user = session.scalar(select(User).where(User.username == username.lower()))
            if user is None:
                raise NotFoundError(f"no user {username!r}")
            return _info(user)

    def count_users(self) -> int:
        with self.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(User)) or 0)

    def authenticate(self, username: str, password: str) -> UserInfo:
        """The user with this password; AuthenticationError (same message) otherwise."""
        name = username.strip().lower()
        with self.db.session() as session:
            user = session.scalar(select(User).where(User.username == name)) if name else None
            ok = verify_password(user.password_hash if user else None, password)
            if not ok or user is None or user.disabled:
                raise AuthenticationError(SIGN_IN_FAILED)
            user.last_sign_in_at = utcnow()
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            return _info(user)

    def change_password(self, user_id: int, current: str, new: str) -> None:
        """Check ``current``, store ``new`` and end every session of the user."""
        check_password(new)
        with self.db.session() as session:
            user = session.get(User, user_id)
            if user is None or not verify_password(user.password_hash, current):
                raise AuthenticationError("the current password is wrong")
            user.password_hash = hash_password(new)
            session.execute(delete(WebSession).where(WebSession.user_id == user_id))

    def set_disabled(self, username: str, disabled: bool = True) -> UserInfo:
        """Disable (or re-enable) a user: sessions end, tokens stop working."""
        with self.db.session() as session:
            user = session.scalar(select(User).where(User.username == username.lower()))
            if user is None:
                raise NotFoundError(f"no user {username!r}")
            user.disabled = disabled
            if disabled:
                session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            return _info(user)

    # -- sign-up codes (invite-only hubs) ---------------------------------------------

    def create_signup_code(self, created_by: str) -> str:
        code = secrets.token_urlsafe(18)
        with self.db.session() as session:
            session.add(SignupCode(code_hash=digest(code), created_by=created_by))
        return code

    def use_signup_code(self, code: str, username: str) -> None:
        with self.db.session() as session:
            used = session.execute(
                update(SignupCode).where(SignupCode.code_hash == digest(code.strip()),
                                         SignupCode.used_by.is_(None))
                .values(used_by=username)
            ).rowcount  # type: ignore[attr-defined]
        if not used:
            raise InputError("that invitation code is not valid (or was used already)")

    # -- web sessions ------------------------------------------------------------------

    def start_session(self, user_id: int, client_addr: str) -> NewSession:
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = utcnow() + self.session_lifetime
        with self.db.session() as session:
            session.add(WebSession(id=digest(cookie), user_id=user_id, csrf_token=csrf,
                                   expires_at=expires, client_addr=client_addr[:64]))
        return NewSession(cookie, csrf, expires)

    def resolve_session(self, cookie: str) -> Principal | None:
        """The signed-in user of a session cookie, or None (unknown, expired, disabled)."""
        if not cookie or len(cookie) > 128:
            return None
        with self.db.session() as session:
            row = session.execute(
                select(WebSession.csrf_token, WebSession.expires_at, User.id, User.username,
                       User.is_admin, User.disabled)
                .join(User, User.id == WebSession.user_id)
                .where(WebSession.id == digest(cookie))
            ).first()
        if row is None:
            return None
        csrf, expires, user_id, username, is_admin, disabled = row
        if disabled or _aware(expires) <= utcnow():
            return None
        return Principal(PrincipalKind.USER, user_id=user_id, username=username,
                         is_site_admin=is_admin, session_csrf=csrf, via="session")

    def end_session(self, cookie: str) -> None:
        with self.db.session() as session:
            session.execute(delete(WebSession).where(WebSession.id == digest(cookie)))


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
