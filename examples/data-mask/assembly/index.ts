// data-mask: masks payment card numbers and e-mail addresses in response bodies.
//
// Configuration (JSON):
//   {"cards": true,              // mask 13-19 digit numbers that pass the Luhn check
//    "emails": true,             // mask the local part of e-mail addresses (keeps the 1st char)
//    "keep_last": 4,             // card digits left visible at the end
//    "mask_char": "*",
//    "content_types": ["application/json", "text/"]}   // prefixes of bodies to inspect
// The body is buffered until end of stream, then rewritten in place. Masking replaces one
// ASCII character by one, so the length (and Content-Length) is unchanged.

export * from "../../common/exports";
import { Filter, registerRoot } from "../../common/proxy";
import {
  RootContext, Context, FilterHeadersStatusValues, FilterDataStatusValues,
  log, LogLevelValues, Counter,
} from "@solo-io/proxy-runtime";
import { HeaderMapTypeValues, BufferTypeValues } from "@solo-io/proxy-runtime/runtime";
import { JsonParser } from "../../common/json";
import { readPluginConfig, readBuffer, writeBuffer, getHeader } from "../../common/host";

class MaskRoot extends RootContext {
  cards: bool = true;
  emails: bool = true;
  keepLast: i32 = 4;
  maskChar: u8 = 0x2a; // '*'
  contentTypes: Array<string> = ["application/json", "text/"];
  masked: Counter | null = null;

  createContext(context_id: u32): Context {
    return new DataMask(context_id, this);
  }

  onConfigure(configuration_size: u32): bool {
    const parser = new JsonParser(readPluginConfig(configuration_size));
    const config = parser.parse();
    if (parser.error.length > 0 || !config.isObject()) {
      log(LogLevelValues.error, "data-mask: configuration must be a JSON object: " + parser.error);
      return false;
    }
    this.cards = config.getBool("cards", true);
    this.emails = config.getBool("emails", true);
    this.keepLast = <i32>config.getNumber("keep_last", 4);
    const maskChar = config.getString("mask_char", "*");
    if (maskChar.length != 1 || maskChar.charCodeAt(0) > 0x7e || maskChar.charCodeAt(0) < 0x20) {
      log(LogLevelValues.error, "data-mask: mask_char must be one printable ASCII character");
      return false;
    }
    this.maskChar = <u8>maskChar.charCodeAt(0);
    const types = config.get("content_types");
    if (types.isArray()) {
      this.contentTypes = new Array<string>();
      for (let i = 0; i < types.items.length; i++) this.contentTypes.push(types.items[i].stringValue.toLowerCase());
    }
    if (this.masked === null) this.masked = new Counter("data_mask_masked_total");
    return true;
  }
}

function isDigit(c: u8): bool { return c >= 0x30 && c <= 0x39; }
function isAlnum(c: u8): bool { return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a); }
function isLocalChar(c: u8): bool { return isAlnum(c) || c == 0x2e || c == 0x5f || c == 0x25 || c == 0x2b || c == 0x2d; }
function isDomainChar(c: u8): bool { return isAlnum(c) || c == 0x2e || c == 0x2d; }

// Masks card numbers: runs of 13-19 digits, optionally grouped by single spaces or dashes,
// that pass the Luhn checksum. Returns how many were masked.
function maskCards(body: Uint8Array, keepLast: i32, mask: u8): i32 {
  let found = 0;
  let i = 0;
  const n = body.length;
  const positions = new Array<i32>();
  while (i < n) {
    if (!isDigit(body[i]) || (i > 0 && isAlnum(body[i - 1]))) { i++; continue; }
    positions.length = 0;
    let j = i;
    while (j < n) {
      if (isDigit(body[j])) { positions.push(j); j++; continue; }
      if ((body[j] == 0x20 || body[j] == 0x2d) && j + 1 < n && isDigit(body[j + 1]) && positions.length > 0) { j++; continue; }
      break;
    }
    const count = positions.length;
    const endsClean = j >= n || !isAlnum(body[j]);
    if (count >= 13 && count <= 19 && endsClean) {
      let sum = 0;
      for (let k = 0; k < count; k++) {
        let d = <i32>(body[positions[count - 1 - k]] - 0x30);
        if (k % 2 == 1) { d *= 2; if (d > 9) d -= 9; }
        sum += d;
      }
      if (sum % 10 == 0) {
        for (let k = 0; k < count - keepLast; k++) body[positions[k]] = mask;
        found++;
      }
    }
    i = j > i ? j : i + 1;
  }
  return found;
}

// Masks the local part of e-mail addresses after its first character. Returns how many.
function maskEmails(body: Uint8Array, mask: u8): i32 {
  let found = 0;
  const n = body.length;
  for (let at = 1; at < n - 1; at++) {
    if (body[at] != 0x40) continue;
    let start = at;
    while (start > 0 && isLocalChar(body[start - 1])) start--;
    let end = at + 1;
    let dots = 0;
    while (end < n && isDomainChar(body[end])) { if (body[end] == 0x2e) dots++; end++; }
    while (end > at + 1 && body[end - 1] == 0x2e) { end--; dots--; }
    if (start == at || dots < 1 || !isAlnum(body[at + 1])) continue;
    for (let k = start + 1; k < at; k++) body[k] = mask;
    found++;
    at = end;
  }
  return found;
}

class DataMask extends Filter {
  inspect: bool = false;

  constructor(context_id: u32, root_context: MaskRoot) {
    super(context_id, root_context);
  }

  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const root = this.root_context as MaskRoot;
    const type = getHeader(HeaderMapTypeValues.ResponseHeaders, "content-type").toLowerCase();
    this.inspect = false;
    for (let i = 0; i < root.contentTypes.length; i++) {
      if (type.startsWith(root.contentTypes[i])) { this.inspect = true; break; }
    }
    return FilterHeadersStatusValues.Continue;
  }

  onResponseBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    if (!this.inspect) return FilterDataStatusValues.Continue;
    if (!end_of_stream) return FilterDataStatusValues.StopIterationAndBuffer;
    const root = this.root_context as MaskRoot;
    const data = readBuffer(BufferTypeValues.HttpResponseBody, <u32>body_buffer_length);
    const bytes = Uint8Array.wrap(data);
    let found = 0;
    if (root.cards) found += maskCards(bytes, root.keepLast, root.maskChar);
    if (root.emails) found += maskEmails(bytes, root.maskChar);
    if (found > 0) {
      writeBuffer(BufferTypeValues.HttpResponseBody, 0, <u32>body_buffer_length, data);
      const masked = root.masked;
      if (masked !== null) masked.increment(found);
      log(LogLevelValues.info, "data-mask: masked " + found.toString() + " values");
    }
    return FilterDataStatusValues.Continue;
  }
}

function newRoot(context_id: u32): RootContext {
  return new MaskRoot(context_id);
}

registerRoot(newRoot, "data_mask");
registerRoot(newRoot, "");
