"""Namespaces, organizations, memberships, teams and invitations.

Every user owns the namespace named like them; an organization owns the namespace named
like it. Modules: ``models`` (tables), ``service`` (:class:`OrgService`).
"""
