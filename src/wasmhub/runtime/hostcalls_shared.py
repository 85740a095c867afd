"""Host functions for shared data (key-value with compare-and-swap) and shared queues.

Shared data and queues are scoped by VM id and live in :class:`SharedState`, which the
harness shares between the VMs of one test file. CAS values come from one counter, as in
proxy-wasm-cpp-host: a set with a non-zero ``cas`` that differs from the stored one
answers CAS_MISMATCH. Enqueueing schedules ``proxy_on_queue_ready`` on the root context
that registered the queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from wasmhub.runtime.abi import Status
from wasmhub.runtime.contexts import RootContext

if TYPE_CHECKING:
    from wasmhub.runtime.vm import PluginVM


def functions(vm: PluginVM) -> dict[str, Callable[..., int]]:
    mem = vm.memory
    shared = vm.shared
    vm_id = vm.config.vm_id

    def set_shared_data(kp: int, ks: int, vp: int, vs: int, cas: int) -> int:
        key = (vm_id, mem.read(kp, ks))
        value = mem.read(vp, vs)
        current = shared.data.get(key)
        if current is not None and cas and cas != current[1]:
            return Status.CAS_MISMATCH
        shared.data[key] = (value, shared.cas())
        return Status.OK

    def get_shared_data(kp: int, ks: int, rp: int, rs: int, rcas: int) -> int:
        current = shared.data.get((vm_id, mem.read(kp, ks)))
        if current is None:
            return Status.NOT_FOUND
        mem.check(rcas, 4)
        mem.give(current[0], rp, rs)
        mem.write_u32(rcas, current[1])
        return Status.OK

    def register_queue(np: int, ns: int, ret_id: int) -> int:
        name = (vm_id, mem.read(np, ns))
        mem.check(ret_id, 4)
        queue_id = shared.queue_names.get(name)
        if queue_id is None:
            queue_id = shared.next_queue
            shared.next_queue += 1
            shared.queue_names[name] = queue_id
            shared.queues[queue_id] = deque()
        ctx = vm.current
        root_id = ctx.id if isinstance(ctx, RootContext) else ctx.root_context_id
        shared.queue_owner[queue_id] = (vm, root_id)
        mem.write_u32(ret_id, queue_id)
        return Status.OK

    def resolve_queue(vp: int, vs: int, np: int, ns: int, ret_id: int) -> int:
        key = (mem.read(vp, vs).decode("utf-8", "replace"), mem.read(np, ns))
        queue_id = shared.queue_names.get(key)
        if queue_id is None:
            return Status.NOT_FOUND
        mem.write_u32(ret_id, queue_id)
        return Status.OK

    def enqueue(queue_id: int, vp: int, vs: int) -> int:
        queue = shared.queues.get(queue_id)
        if queue is None:
            return Status.NOT_FOUND
        queue.append(mem.read(vp, vs))
        owner = shared.queue_owner.get(queue_id)
        if owner is not None:
            owner_vm, root_id = owner
            owner_vm.events.append(lambda: owner_vm.queue_ready(root_id, queue_id))
        return Status.OK

    def dequeue(queue_id: int, rp: int, rs: int) -> int:
        queue = shared.queues.get(queue_id)
        if queue is None:
            return Status.NOT_FOUND
        if not queue:
            return Status.EMPTY
        mem.check(rp, 4)
        mem.check(rs, 4)
        mem.give(queue.popleft(), rp, rs)
        return Status.OK

    return {
        "proxy_set_shared_data": set_shared_data,
        "proxy_get_shared_data": get_shared_data,
        "proxy_register_shared_queue": register_queue,
        "proxy_resolve_shared_queue": resolve_queue,
        "proxy_enqueue_shared_queue": enqueue,
        "proxy_dequeue_shared_queue": dequeue,
    }
