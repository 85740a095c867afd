// The proxy_on_* exports of the AssemblyScript samples (ABI 0.2.0), dispatched to the
// contexts registered in common/proxy.ts. Same callbacks and behaviour as the exports of
// @solo-io/proxy-runtime 0.1.8, without its per-stream debug tracing; see common/proxy.ts.
// Only this module is re-exported by a sample, so the wasm module exports nothing else.

import { roots, streams, rootFor } from "./proxy";

export { malloc, free } from "@solo-io/proxy-runtime/malloc";

export function proxy_abi_version_0_2_0(): void { }

export function proxy_on_context_create(context_id: u32, root_context_id: u32): void {
  if (root_context_id == 0) {
    rootFor(context_id);
  } else if (!streams.has(context_id)) {
    streams.set(context_id, rootFor(root_context_id).createContext(context_id));
  }
}

export function proxy_on_vm_start(root_context_id: u32, configuration_size: u32): u32 {
  return roots.get(root_context_id).onStart(configuration_size) ? 1 : 0;
}
export function proxy_validate_configuration(root_context_id: u32, configuration_size: u32): u32 {
  return roots.get(root_context_id).validateConfiguration(configuration_size) ? 1 : 0;
}
export function proxy_on_configure(root_context_id: u32, configuration_size: u32): u32 {
  return roots.get(root_context_id).onConfigure(configuration_size) ? 1 : 0;
}
export function proxy_on_tick(root_context_id: u32): void {
  roots.get(root_context_id).onTick();
}
export function proxy_on_foreign_function(root_context_id: u32, function_id: u32, data_size: u32): void { }
export function proxy_on_queue_ready(root_context_id: u32, token: u32): void {
  roots.get(root_context_id).onQueueReady(token);
}

export function proxy_on_request_headers(context_id: u32, headers: u32, end_of_stream: u32): i32 {
  return streams.get(context_id).onRequestHeaders(headers, end_of_stream != 0);
}
export function proxy_on_request_body(context_id: u32, body_buffer_length: u32, end_of_stream: u32): i32 {
  return streams.get(context_id).onRequestBody(body_buffer_length, end_of_stream != 0);
}
export function proxy_on_request_trailers(context_id: u32, trailers: u32): i32 {
  return streams.get(context_id).onRequestTrailers(trailers);
}
export function proxy_on_request_metadata(context_id: u32, nelements: u32): i32 {
  return streams.get(context_id).onRequestMetadata(nelements);
}
export function proxy_on_response_headers(context_id: u32, headers: u32, end_of_stream: u32): i32 {
  return streams.get(context_id).onResponseHeaders(headers, end_of_stream != 0);
}
export function proxy_on_response_body(context_id: u32, body_buffer_length: u32, end_of_stream: u32): i32 {
  return streams.get(context_id).onResponseBody(body_buffer_length, end_of_stream != 0);
}
export function proxy_on_response_trailers(context_id: u32, trailers: u32): i32 {
  return streams.get(context_id).onResponseTrailers(trailers);
}
export function proxy_on_response_metadata(context_id: u32, nelements: u32): i32 {
  return streams.get(context_id).onResponseMetadata(nelements);
}

export function proxy_on_http_call_response(context_id: u32, token: u32, headers: u32, body_size: u32, trailers: u32): void {
  roots.get(context_id).onHttpCallResponse(token, headers, body_size, trailers);
}
export function proxy_on_grpc_receive_initial_metadata(context_id: u32, token: u32, headers: u32): void {
  roots.get(context_id).on_grpc_receive_initial_metadata(token, headers);
}
export function proxy_on_grpc_trailing_metadata(context_id: u32, token: u32, trailers: u32): void {
  roots.get(context_id).on_grpc_trailing_metadata(token, trailers);
}
export function proxy_on_grpc_receive(context_id: u32, token: u32, response_size: u32): void {
  roots.get(context_id).on_grpc_receive(token, response_size);
}
export function proxy_on_grpc_close(context_id: u32, token: u32, status_code: u32): void {
  roots.get(context_id).on_grpc_close(token, status_code);
}

export function proxy_on_done(context_id: u32): u32 {
  if (streams.has(context_id)) return streams.get(context_id).onDone() ? 1 : 0;
  return roots.get(context_id).onDone() ? 1 : 0;
}
export function proxy_on_log(context_id: u32): void {
  if (streams.has(context_id)) streams.get(context_id).onLog();
}
export function proxy_on_delete(context_id: u32): void {
  if (streams.has(context_id)) {
    streams.get(context_id).onDelete();
    streams.delete(context_id);
  } else if (roots.has(context_id)) {
    roots.get(context_id).onDelete();
    roots.delete(context_id);
  }
}
