"""FleetService against the database (SQLite and PostgreSQL: the ``hub`` fixture runs each
test on both): deployments and revisions, staged rollouts, promotion, NACK halt, undo,
follow-tag, incompatible nodes held back, the trust gate, typed errors for bad input, and
concurrent writers on one deployment."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support.accounts import make_user
from wasmhub.deploy.errors import SpecError
from wasmhub.errors import InputError, NotFoundError, PermissionDeniedError
from wasmhub.fleet.errors import FleetDeploymentNotFound, NothingToUndo, RolloutRefused
from wasmhub.fleet.service import Stage
from wasmhub.hub import Hub
from wasmhub.signing.keys import SigningKey
from wasmhub.signing.policy import TrustMode
from wasmhub.signing.trust import TrustService

from .fleet_support import (
    NAMESPACE,
    RESOURCE,
    FleetWorld,
    Node,
    fleet_world,
    module_variant,
    principal,
    publish,
    spec,
)


@pytest.fixture
def world(hub: Hub) -> FleetWorld:
    return fleet_world(hub)


def nodes(world: FleetWorld, *ids: str, version: str = "1.40.0") -> list[Node]:
    return [Node(world.fleet, i, version).connect() for i in ids]


def on_revision_1(world: FleetWorld, *ids: str) -> list[Node]:
    """Deployment ``acme/edge`` at revision 1, stable, ACKed by nodes ``ids``."""
    world.fleet.set(spec(), world.ops)
    out = nodes(world, *ids)
    for node in out:
        assert node.ack() == 1
    return out


def test_set_creates_then_changes_a_deployment_with_revisions(world: FleetWorld) -> None:
    fleet, ops = world.fleet, world.ops
    created = fleet.set(spec(), ops)
    assert created.resource == RESOURCE and created.repository == "acme/hdr"
    # No node is connected: nobody has to ACK, the first revision is stable at once.
    assert created.state == "complete" and created.candidate is None
    assert created.stable is not None and created.stable.revision == 1
    assert created.stable.digest == world.digests["1.0.0"]  # pinned by this hub
    assert created.stable.created_by == "ops" and created.stable.reason == "set"

    again = fleet.set(spec(), ops)  # the same spec: no new revision
    assert again.stable is not None and again.stable.revision == 1
    assert again.generation == created.generation

    [node] = nodes(world, "n1")
    assert node.ack() == 1
    changed = fleet.set(spec(config={"header": "x-b"}), ops)
    assert changed.state == "progressing" and changed.candidate is not None
    assert changed.candidate.revision == 2 and changed.stable is not None
    assert changed.stable.revision == 1
    assert changed.generation > created.generation
    assert node.offered()[0] is not None and node.offered()[0].revision == 2  # type: ignore[union-attr]
    moved = fleet.set(spec(tag="1.1.0", config={"header": "x-b"}), ops)
    assert moved.candidate is not None and moved.candidate.revision == 3
    assert moved.candidate.digest == world.digests["1.1.0"]
    history = fleet.history(NAMESPACE, "edge", ops)
    assert [r.revision for r in history] == [3, 2, 1]
    assert history[1].deployment.config == {"header": "x-b"}
    [listed] = fleet.deployments(ops, NAMESPACE)
    assert listed.resource == RESOURCE and [n.node_id for n in listed.nodes] == ["n1"]


def test_promotion_waits_for_every_live_node(world: FleetWorld) -> None:
    n1, n2 = on_revision_1(world, "n1", "n2")
    started = world.fleet.set(spec(config={"header": "x-b"}), world.ops)
    assert started.state == "progressing"
    assert n1.ack() == 2
    assert world.fleet.get(NAMESPACE, "edge", world.ops).state == "progressing"
    assert n2.ack() == 2
    done = world.fleet.get(NAMESPACE, "edge", world.ops)
    assert done.state == "complete" and done.candidate is None
    assert done.stable is not None and done.stable.revision == 2
    assert "ACKed by 2 node(s)" in done.message
    for config in (c for n in done.nodes for c in n.configs):
        assert config.acked_revision == 2 and config.nack_error is None


def test_a_disconnected_node_does_not_hold_up_promotion(world: FleetWorld) -> None:
    n1, n2 = on_revision_1(world, "n1", "n2")
    world.fleet.set(spec(config={"header": "x-b"}), world.ops)
    assert n1.ack() == 2
    world.fleet.node_disconnected("n2")
    view = world.fleet.get(NAMESPACE, "edge", world.ops)
    assert view.state == "complete" and view.stable is not None and view.stable.revision == 2
    [gone] = [n for n in view.nodes if n.node_id == "n2"]
    assert gone.stale and not gone.connected  # kept, marked stale
    assert n2.offered()[0] is not None


def test_staged_rollout_by_node_list(world: FleetWorld) -> None:
    n1, n2, n3 = on_revision_1(world, "n1", "n2", "n3")
    started = world.fleet.set(spec(config={"header": "x-b"}), world.ops,
                              stage=Stage(nodes=("n2",)))
    assert started.stage_nodes == ("n2",) and started.stage == {"nodes": ["n2"]}
    offered = {n.node_id: n.offered()[0] for n in (n1, n2, n3)}
    assert {k: v.revision if v else None for k, v in offered.items()} == \
        {"n1": 1, "n2": 2, "n3": 1}
    assert n2.ack() == 2
    second = world.fleet.get(NAMESPACE, "edge", world.ops)
    assert second.state == "progressing" and second.stage_nodes is None  # now every node
    assert "rolling out to every node" in second.message
    assert n1.ack() == 2
    assert world.fleet.get(NAMESPACE, "edge", world.ops).state == "progressing"
    assert n3.ack() == 2
    done = world.fleet.get(NAMESPACE, "edge", world.ops)
    assert done.state == "complete" and done.stable is not None and done.stable.revision == 2


def test_staged_rollout_by_percentage(world: FleetWorld) -> None:
    fleet = on_revision_1(world, "n1", "n2", "n3", "n4")
    started = world.fleet.set(spec(config={"header": "x-b"}), world.ops,
                              stage=Stage(percent=25))
    assert started.stage_nodes is not None and len(started.stage_nodes) == 1  # ceil(4 * 25%)
    [first] = started.stage_nodes
    for node in fleet:
        offered = node.offered()[0]
        assert offered is not None
        assert offered.revision == (2 if node.node_id == first else 1)
    again = world.fleet.set(spec(config={"header": "x-c"}), world.ops, stage=Stage(percent=50))
    assert again.stage_nodes is not None and len(again.stage_nodes) == 2
    assert again.candidate is not None and again.candidate.revision == 3


def test_a_nack_halts_the_rollout_and_the_stable_revision_keeps_serving(
        world: FleetWorld) -> None:
    n1, n2 = on_revision_1(world, "n1", "n2")
    world.fleet.set(spec(config={"header": "x-b"}), world.ops, stage=Stage(nodes=("n1",)))
    assert n1.nack("Unable to create Wasm HTTP filter edge: configure failed") == 2
    view = world.fleet.get(NAMESPACE, "edge", world.ops)
    assert view.state == "halted" and view.candidate is None
    assert view.stable is not None and view.stable.revision == 1
    assert "revision 2 halted: NACKed by n1" in view.message
    assert "configure failed" in view.message and "revision 1 keeps serving" in view.message
    [config] = next(n for n in view.nodes if n.node_id == "n1").configs
    assert config.nacked_revision == 2 and "configure failed" in (config.nack_error or "")
    assert config.acked_revision == 1  # Envoy keeps its last good config
    for node in (n1, n2):  # the candidate is withdrawn: everyone is offered the stable one
        offered = node.offered()[0]
        assert offered is not None and offered.revision == 1
    # The same spec again after a halt is a new attempt, a new revision.
    retried = world.fleet.set(spec(config={"header": "x-b"}), world.ops)
    assert retried.state == "progressing" and retried.candidate is not None
    assert retried.candidate.revision == 3


def test_a_nack_of_an_old_revision_does_not_halt_the_new_one(world: FleetWorld) -> None:
    [n1] = on_revision_1(world, "n1")
    world.fleet.set(spec(config={"header": "x-b"}), world.ops)
    world.fleet.node_nacked("n1", RESOURCE, 1, "late words about revision 1")
    assert world.fleet.get(NAMESPACE, "edge", world.ops).state == "progressing"
    assert n1.ack() == 2
    view = world.fleet.get(NAMESPACE, "edge", world.ops)
    assert view.state == "complete"
    [config] = view.nodes[0].configs
    assert config.nack_error is None  # an ACK of a later revision clears an older NACK


def test_undo_withdraws_a_candidate_then_rolls_back_the_stable_revision(
        world: FleetWorld) -> None:
    fleet, ops = world.fleet, world.ops
    [n1] = on_revision_1(world, "n1")
    with pytest.raises(NothingToUndo):
        fleet.undo(NAMESPACE, "edge", ops)  # nothing before revision 1
    fleet.set(spec(config={"header": "x-b"}), ops)
    withdrawn = fleet.undo(NAMESPACE, "edge", ops)
    assert withdrawn.state == "complete" and withdrawn.candidate is None
    assert withdrawn.stable is not None and withdrawn.stable.revision == 1
    assert "revision 2 withdrawn by ops" in withdrawn.message
    offered = n1.offered()[0]
    assert offered is not None and offered.revision == 1

    fleet.set(spec(config={"header": "x-c"}), ops)  # revision 3, promoted
    assert n1.ack() == 3
    assert fleet.get(NAMESPACE, "edge", ops).state == "complete"
    back = fleet.undo(NAMESPACE, "edge", ops)  # to revision 1: 2 was never promoted
    assert back.candidate is not None and back.candidate.revision == 4
    assert back.candidate.reason == "undo" and back.candidate.deployment.config == \
        {"header": "x-a"}
    assert n1.ack() == 4
    assert fleet.get(NAMESPACE, "edge", ops).stable.revision == 4  # type: ignore[union-attr]


def test_undo_of_a_halted_rollout(world: FleetWorld) -> None:
    [n1] = on_revision_1(world, "n1")
    world.fleet.set(spec(config={"header": "x-b"}), world.ops)
    n1.nack("bad")
    # Halted: the candidate is already withdrawn; undo goes back before revision 1: none.
    with pytest.raises(NothingToUndo):
        world.fleet.undo(NAMESPACE, "edge", world.ops)
    assert world.fleet.get(NAMESPACE, "edge", world.ops).stable.revision == 1  # type: ignore[union-attr]


def test_follow_tag_rolls_out_when_the_tag_moves(world: FleetWorld) -> None:
    fleet, ops = world.fleet, world.ops
    set_ = fleet.set(spec(), ops, follow_tag=True)
    assert set_.follow_tag
    [n1] = nodes(world, "n1")
    assert n1.ack() == 1
    assert fleet.follow_tags() == []  # the tag has not moved
    moved = publish(world.hub, "1.0.0", module_variant("moved"))
    assert moved != world.digests["1.0.0"]
    assert fleet.follow_tags() == [RESOURCE]
    view = fleet.get(NAMESPACE, "edge", ops)
    assert view.candidate is not None and view.candidate.revision == 2
    assert view.candidate.digest == moved and view.candidate.reason == "tag-moved"
    assert view.follow_tag
    assert fleet.follow_tags() == []  # once per move
    assert n1.ack() == 2
    assert fleet.get(NAMESPACE, "edge", ops).state == "complete"


def test_a_pinned_deployment_ignores_a_moved_tag(world: FleetWorld) -> None:
    world.fleet.set(spec(), world.ops)
    publish(world.hub, "1.0.0", module_variant("moved"))
    assert world.fleet.follow_tags() == []
    view = world.fleet.get(NAMESPACE, "edge", world.ops)
    assert view.stable is not None and view.stable.digest == world.digests["1.0.0"]


def test_an_incompatible_envoy_is_held_back_with_its_reason(world: FleetWorld) -> None:
    fleet, ops = world.fleet, world.ops
    [new] = on_revision_1(world, "new")
    [old] = nodes(world, "old", version="1.12.3")  # before Envoy had the Wasm filter
    revision, held = old.offered()
    assert revision is None and held is not None
    assert "incompatible with Envoy 1.12.3" in held
    assert old.receive() is None  # nothing sent: Envoy keeps its default config
    fleet.set(spec(config={"header": "x-b"}), ops)
    assert new.ack() == 2
    view = fleet.get(NAMESPACE, "edge", ops)  # the held node does not block promotion
    assert view.state == "complete" and view.stable is not None and view.stable.revision == 2
    assert "held back from 1 incompatible" in view.message
    [config] = next(n for n in view.nodes if n.node_id == "old").configs
    assert config.held is not None and "1.12.3" in config.held
    assert config.acked_revision is None
    node = next(n for n in fleet.nodes(ops) if n.node_id == "old")
    assert node.envoy_version == "1.12.3" and node.configs[0].held == config.held


def test_the_trust_gate_refuses_an_unsigned_plugin_and_changes_nothing(
        world: FleetWorld) -> None:
    fleet, ops = world.fleet, world.ops
    on_revision_1(world, "n1")
    before = fleet.get(NAMESPACE, "edge", ops)
    trust = TrustService(world.hub)
    trust.add_key(NAMESPACE, "release", SigningKey.generate().public.to_pem(), "admin")
    trust.set_policy(NAMESPACE, TrustMode.REQUIRED_FOR_DEPLOY, "admin")
    with pytest.raises(RolloutRefused) as refused:
        fleet.set(spec(config={"header": "x-b"}), ops)
    message = refused.value.message
    assert message.startswith("rollout refused: ") and "acme/hdr@sha256:" in message
    assert "required-for-deploy" in message and "acme" in message
    after = fleet.get(NAMESPACE, "edge", ops)
    assert after.generation == before.generation and after.candidate is None
    assert [r.revision for r in fleet.history(NAMESPACE, "edge", ops)] == [1]
    with pytest.raises(RolloutRefused):  # a new deployment is not created either
        fleet.set(spec(name="other"), ops)
    with pytest.raises(FleetDeploymentNotFound):
        fleet.get(NAMESPACE, "other", ops)


def test_a_followed_tag_that_moves_to_an_untrusted_plugin_is_not_rolled_out(
        world: FleetWorld) -> None:
    fleet, ops = world.fleet, world.ops
    fleet.set(spec(), ops, follow_tag=True)
    TrustService(world.hub).set_policy(NAMESPACE, TrustMode.REQUIRED_FOR_DEPLOY, "admin")
    publish(world.hub, "1.0.0", module_variant("moved"))
    assert fleet.follow_tags() == []
    view = fleet.get(NAMESPACE, "edge", ops)
    assert view.candidate is None and view.stable is not None and view.stable.revision == 1
    assert "tag 1.0.0 moved" in view.message and "not rolled out" in view.message


@pytest.mark.parametrize(("change", "field"), [
    ({"platform": "istio"}, "platform"),
    ({"code_source": "oci"}, "codeSource"),
    ({"plugin_type": "network"}, "pluginType"),
])
def test_a_spec_a_fleet_cannot_serve_is_a_spec_error(world: FleetWorld, change: dict[str, str],
                                                     field: str) -> None:
    base = spec().model_dump(mode="json", by_alias=False)
    bad = spec().model_validate({**base, **change})
    with pytest.raises(SpecError) as refused:
        world.fleet.set(bad, world.ops)
    assert refused.value.field == field
    assert world.fleet.deployments(world.ops) == []


def test_bad_input_is_a_typed_error(world: FleetWorld) -> None:
    fleet, ops = world.fleet, world.ops
    with pytest.raises(FleetDeploymentNotFound):
        fleet.get(NAMESPACE, "nope", ops)
    with pytest.raises(FleetDeploymentNotFound):
        fleet.history(NAMESPACE, "nope", ops)
    with pytest.raises(FleetDeploymentNotFound):
        fleet.undo(NAMESPACE, "nope", ops)
    with pytest.raises(SpecError):
        spec(name="Bad_Name")
    with pytest.raises(SpecError):
        spec(namespace="-acme")
    with pytest.raises(NotFoundError):
        fleet.set(spec(tag="9.9.9"), ops)  # no such version
    with pytest.raises(NotFoundError):
        fleet.set(spec(tag=None, plugin={"digest": "sha256:" + "0" * 64}), ops)
    with pytest.raises(RolloutRefused, match="followTag"):
        fleet.set(spec(tag=None, plugin={"digest": world.digests["1.0.0"]}), ops,
                  follow_tag=True)
    for stage in ({"percent": 0}, {"percent": 100}, {"percent": 5, "nodes": ("n1",)},
                  {"nodes": ("",)}):
        with pytest.raises(InputError):
            Stage(**stage)  # type: ignore[arg-type]
    with pytest.raises(SpecError):
        fleet.set(spec(plugin={"hubUrl": ""}), ops)
    assert fleet.deployments(ops) == []


def test_a_pinned_digest_is_served_by_that_digest(world: FleetWorld) -> None:
    view = world.fleet.set(spec(tag=None, plugin={"digest": world.digests["1.1.0"]}),
                           world.ops)
    assert view.stable is not None and view.stable.digest == world.digests["1.1.0"]


def test_permissions(world: FleetWorld, hub: Hub) -> None:
    on_revision_1(world, "n1")
    make_user(hub, "eve")
    eve = principal(hub, "eve")
    with pytest.raises(PermissionDeniedError):
        world.fleet.set(spec(config={"header": "x-b"}), eve)
    with pytest.raises(PermissionDeniedError):
        world.fleet.undo(NAMESPACE, "edge", eve)
    assert world.fleet.get(NAMESPACE, "edge", eve).resource == RESOURCE  # acme is public
    assert [r.revision for r in world.fleet.history(NAMESPACE, "edge", world.ops)] == [1]


def _concurrently(count: int, work: Any) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count, timeout=60)

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return errors


def test_concurrent_writers_keep_one_revision_sequence(world: FleetWorld, hub: Hub) -> None:
    fleet, ops = world.fleet, world.ops
    rounds = 4

    def create(index: int) -> None:
        fleet.set(spec(config={"header": f"x-first-{index}"}), ops)

    assert _concurrently(2, create) == []  # both create acme/edge at once
    nodes(world, "n1")  # a live node: every set stays a candidate

    def write(index: int) -> None:
        for round_ in range(rounds):
            fleet.set(spec(config={"header": f"x-{index}-{round_}"}), ops)

    assert _concurrently(2, write) == []
    history = fleet.history(NAMESPACE, "edge", ops)
    numbers = sorted(r.revision for r in history)
    assert numbers == list(range(1, len(numbers) + 1))  # no gap, no duplicate
    assert len(numbers) == 2 + 2 * rounds  # two creations (the second a change), 8 sets
    view = fleet.get(NAMESPACE, "edge", ops)
    assert view.candidate is not None and view.candidate.revision == numbers[-1]
