// Thin, non-aborting wrappers over proxy-wasm host calls for the AssemblyScript samples.
//
// @solo-io/proxy-runtime 0.1.8 aborts the VM (CHECK_RESULT) on some non-Ok results, reads the
// plugin configuration through a wrong size pointer, passes no CAS to shared data and has no
// proxy_set_buffer_bytes. These helpers call the ABI directly so a sample keeps serving when
// the host answers NotFound, and so rate-limit can use compare-and-swap.

import * as imports from "@solo-io/proxy-runtime/imports";
import { free } from "@solo-io/proxy-runtime/malloc";
import {
  BufferTypeValues, HeaderMapTypeValues, WasmResultValues, HeaderPair, Headers,
  send_local_response, GrpcStatusValues, get_header_map_value,
} from "@solo-io/proxy-runtime/runtime";

// @ts-ignore: decorator
@external("env", "proxy_set_buffer_bytes")
declare function proxy_set_buffer_bytes(typ: i32, start: u32, length: u32, data: usize, size: usize): u32;

// Out-parameters the host writes through pointers.
class OutParams {
  data: usize = 0;
  size: usize = 0;
  cas: u32 = 0;

  dataPtr(): usize { return changetype<usize>(this) + offsetof<OutParams>("data"); }
  sizePtr(): usize { return changetype<usize>(this) + offsetof<OutParams>("size"); }
  casPtr(): usize { return changetype<usize>(this) + offsetof<OutParams>("cas"); }

  // Copies the host-allocated bytes into a new ArrayBuffer and releases the host block.
  take(): ArrayBuffer {
    const out = new ArrayBuffer(<i32>this.size);
    if (this.size > 0) {
      memory.copy(changetype<usize>(out), this.data, this.size);
    }
    if (this.data != 0) free(this.data);
    this.data = 0;
    this.size = 0;
    return out;
  }
}

const out = new OutParams();

// Reads `size` bytes of a host buffer (plugin configuration, request or response body).
export function readBuffer(typ: BufferTypeValues, size: u32): ArrayBuffer {
  if (size == 0) return new ArrayBuffer(0);
  const result = imports.proxy_get_buffer_bytes(typ, 0, size, out.dataPtr(), out.sizePtr());
  if (result != WasmResultValues.Ok) return new ArrayBuffer(0);
  return out.take();
}

export function readPluginConfig(size: u32): string {
  return String.UTF8.decode(readBuffer(BufferTypeValues.PluginConfiguration, size));
}

// Replaces `length` bytes at `start` of a body buffer with `data`.
export function writeBuffer(typ: BufferTypeValues, start: u32, length: u32, data: ArrayBuffer): bool {
  return proxy_set_buffer_bytes(typ, start, length, changetype<usize>(data), data.byteLength) == WasmResultValues.Ok;
}

// The header's value, or "" when absent.
export function getHeader(map: HeaderMapTypeValues, name: string): string {
  return String.UTF8.decode(get_header_map_value(map, String.UTF8.encode(name)));
}

export function hasHeader(map: HeaderMapTypeValues, name: string): bool {
  const key = String.UTF8.encode(name);
  const result = imports.proxy_get_header_map_value(map, changetype<usize>(key), key.byteLength, out.dataPtr(), out.sizePtr());
  if (result != WasmResultValues.Ok) return false;
  out.take();
  return true;
}

export function removeHeader(map: HeaderMapTypeValues, name: string): void {
  removeHeaderBytes(map, String.UTF8.encode(name));
}

// Sets a header to exactly one value: proxy_replace_header_map_value replaces the first
// value and drops the others, or adds the header when absent (one host call).
export function setHeader(map: HeaderMapTypeValues, name: string, value: string): void {
  setHeaderBytes(map, String.UTF8.encode(name), String.UTF8.encode(value));
}

// The same with names and values already UTF-8 encoded (e.g. once, at configuration time),
// so a filter that edits the same headers on every request does not re-encode them.
export function removeHeaderBytes(map: HeaderMapTypeValues, name: ArrayBuffer): void {
  imports.proxy_remove_header_map_value(map, changetype<usize>(name), name.byteLength);
}

export function setHeaderBytes(map: HeaderMapTypeValues, name: ArrayBuffer, value: ArrayBuffer): void {
  imports.proxy_replace_header_map_value(map, changetype<usize>(name), name.byteLength,
    changetype<usize>(value), value.byteLength);
}

// Sends a local reply; `headers` is a flat list [name, value, name, value, ...].
export function localReply(status: u32, details: string, body: string, headers: Array<string>): void {
  const pairs: Headers = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    pairs.push(new HeaderPair(String.UTF8.encode(headers[i]), String.UTF8.encode(headers[i + 1])));
  }
  send_local_response(status, details, String.UTF8.encode(body), pairs, GrpcStatusValues.InvalidCode);
}

export class SharedValue {
  found: bool = false;
  value: string = "";
  cas: u32 = 0;
}

// Reads a shared-data entry with its CAS token.
export function sharedGet(key: string): SharedValue {
  const k = String.UTF8.encode(key);
  const result = new SharedValue();
  const status = imports.proxy_get_shared_data(changetype<usize>(k), k.byteLength, out.dataPtr(), out.sizePtr(), out.casPtr());
  if (status == WasmResultValues.Ok) {
    result.found = true;
    result.cas = out.cas;
    result.value = String.UTF8.decode(out.take());
  }
  return result;
}

// Writes a shared-data entry if its CAS still matches (0 = unconditional); returns the status.
export function sharedSet(key: string, value: string, cas: u32): WasmResultValues {
  const k = String.UTF8.encode(key);
  const v = String.UTF8.encode(value);
  return imports.proxy_set_shared_data(changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength, cas);
}

export function nowNanos(): u64 {
  const holder = new Array<u64>(1);
  imports.proxy_get_current_time_nanoseconds(holder.dataStart);
  return holder[0];
}
