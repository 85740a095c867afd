"""Accounts: people who sign in (users), their passwords and their web sessions.

Modules: ``models`` (tables), ``passwords`` (argon2id hashing), ``service``
(:class:`AccountService`: sign up, sign in, sessions, password change, disable).
"""
