// add-header: sets and removes configured request and response headers.
//
// Configuration (JSON):
//   {"request_headers_to_add": {"x-hello": "world"}, "request_headers_to_remove": ["x-debug"],
//    "response_headers_to_add": {"x-powered-by": "wasmhub"}, "response_headers_to_remove": ["server"]}
// "to_add" entries replace any existing value; removals run before additions.

export * from "../../common/exports";
import {
  RootContext, Context, FilterHeadersStatusValues, log, LogLevelValues,
} from "@solo-io/proxy-runtime";
import { HeaderMapTypeValues } from "@solo-io/proxy-runtime/runtime";
import { JsonParser, JsonValue } from "../../common/json";
import { readPluginConfig, removeHeaderBytes, setHeaderBytes } from "../../common/host";
import { Filter, registerRoot } from "../../common/proxy";

// Header names and values are UTF-8 encoded once, when the configuration is loaded.
class HeaderEdits {
  set: Array<ArrayBuffer> = new Array<ArrayBuffer>(); // flat [name, value, ...]
  remove: Array<ArrayBuffer> = new Array<ArrayBuffer>();

  load(add: JsonValue, remove: JsonValue): bool {
    this.set = new Array<ArrayBuffer>();
    this.remove = new Array<ArrayBuffer>();
    if (add.isObject()) {
      for (let i = 0; i < add.keys.length; i++) {
        const v = add.get(add.keys[i]);
        if (!v.isString()) return false;
        this.set.push(String.UTF8.encode(add.keys[i].toLowerCase()));
        this.set.push(String.UTF8.encode(v.stringValue));
      }
    }
    if (remove.isArray()) {
      for (let i = 0; i < remove.items.length; i++) {
        if (!remove.items[i].isString()) return false;
        this.remove.push(String.UTF8.encode(remove.items[i].stringValue.toLowerCase()));
      }
    }
    return true;
  }

  apply(map: HeaderMapTypeValues): void {
    for (let i = 0; i < this.remove.length; i++) removeHeaderBytes(map, this.remove[i]);
    for (let i = 0; i + 1 < this.set.length; i += 2) setHeaderBytes(map, this.set[i], this.set[i + 1]);
  }
}

class AddHeaderRoot extends RootContext {
  request: HeaderEdits = new HeaderEdits();
  response: HeaderEdits = new HeaderEdits();

  createContext(context_id: u32): Context {
    return new AddHeader(context_id, this);
  }

  onConfigure(configuration_size: u32): bool {
    const parser = new JsonParser(readPluginConfig(configuration_size));
    const config = parser.parse();
    if (parser.error.length > 0 || !config.isObject()) {
      log(LogLevelValues.error, "add-header: configuration must be a JSON object: " + parser.error);
      return false;
    }
    const ok = this.request.load(config.get("request_headers_to_add"), config.get("request_headers_to_remove"))
      && this.response.load(config.get("response_headers_to_add"), config.get("response_headers_to_remove"));
    if (!ok) {
      log(LogLevelValues.error, "add-header: header names and values must be strings");
      return false;
    }
    log(LogLevelValues.info, "add-header: configured " + (this.request.set.length / 2).toString()
      + " request and " + (this.response.set.length / 2).toString() + " response headers");
    return true;
  }
}

class AddHeader extends Filter {
  constructor(context_id: u32, root_context: AddHeaderRoot) {
    super(context_id, root_context);
  }

  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    (this.root_context as AddHeaderRoot).request.apply(HeaderMapTypeValues.RequestHeaders);
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    (this.root_context as AddHeaderRoot).response.apply(HeaderMapTypeValues.ResponseHeaders);
    return FilterHeadersStatusValues.Continue;
  }
}

function newRoot(context_id: u32): RootContext {
  return new AddHeaderRoot(context_id);
}

// Registered under its root_id and under "" so it also runs when no root_id is configured.
registerRoot(newRoot, "add_header");
registerRoot(newRoot, "");
