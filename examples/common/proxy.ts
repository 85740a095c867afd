// Callback dispatch for the AssemblyScript samples: the proxy_on_* exports of
// @solo-io/proxy-runtime 0.1.8 (ABI 0.2.0), minus its per-stream debug tracing.
//
// The SDK's own exports (".../proxy") build about ten debug strings per HTTP stream (dumps of
// its context map on every proxy_on_context_create, onDone/onLog/onDelete traces) and cross
// into the host with each one, although a proxy at its default "info" level drops them all.
// ABI 0.2.0 has no proxy_get_log_level, so the plugin cannot ask whether they would be kept;
// common/exports.ts therefore dispatches the same callbacks to the same RootContext/Context
// classes without them, through the registry kept here. A sample does:
//
//   export * from "../../common/exports";            // the module's proxy_on_* exports
//   import { registerRoot, Filter } from "../../common/proxy";
//   class MyFilter extends Filter { ... }   // Filter = Context without the lifecycle traces
//   registerRoot(newRoot, "my_root_id");
//
// Roots are registered here, not with the SDK's registerRootContext (whose map is private).

import { RootContext, Context } from "@solo-io/proxy-runtime/runtime";
import * as imports from "@solo-io/proxy-runtime/imports";
import { free } from "@solo-io/proxy-runtime/malloc";
import { WasmResultValues } from "@solo-io/proxy-runtime/runtime";

const factories = new Map<string, (context_id: u32) => RootContext>();
// Live contexts by id (used by common/exports.ts).
export const roots = new Map<u32, RootContext>();
export const streams = new Map<u32, Context>();

// Makes `factory` create the root context for plugins configured with `root_id`.
export function registerRoot(factory: (context_id: u32) => RootContext, root_id: string): void {
  factories.set(root_id, factory);
}

// A stream context whose lifecycle callbacks do nothing unless overridden (the SDK's
// Context logs a debug line from each of onDone, onLog and onDelete).
export class Filter extends Context {
  constructor(context_id: u32, root_context: RootContext) {
    super(context_id, root_context);
  }

  onDone(): bool { return true; }
  onLog(): void { }
  onDelete(): void { }
}

// The plugin_root_id property ("" when the proxy sets none).
function pluginRootId(): string {
  const path = String.UTF8.encode("plugin_root_id");
  const out = new Array<usize>(2); // [data, size], written by the host
  const status = imports.proxy_get_property(changetype<usize>(path), path.byteLength,
    out.dataStart, out.dataStart + sizeof<usize>());
  const data = unchecked(out[0]);
  const size = unchecked(out[1]);
  if (status != WasmResultValues.Ok || data == 0) return "";
  const id = String.UTF8.decodeUnsafe(data, size);
  free(data);
  return id;
}

// The root context with this id, created by its registered factory on first use.
export function rootFor(root_context_id: u32): RootContext {
  if (roots.has(root_context_id)) return roots.get(root_context_id);
  const root_id = pluginRootId();
  if (!factories.has(root_id)) throw new Error("no root context registered for root id: " + root_id);
  const root = factories.get(root_id)(root_context_id);
  root.context_id = root_context_id;
  roots.set(root_context_id, root);
  return root;
}
