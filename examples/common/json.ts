// A small JSON reader for plugin configuration (AssemblyScript 0.17 has no JSON in std).
//
// Shared by the AssemblyScript samples; parses the whole RFC 8259 grammar into a tree of
// JsonValue nodes. Errors are reported through JsonParser.error instead of exceptions,
// because an abort inside a proxy-wasm VM kills every stream it serves.

export enum JsonKind { Null, Bool, Number, String, Array, Object }

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  boolValue: bool = false;
  numberValue: f64 = 0;
  stringValue: string = "";
  items: Array<JsonValue> = new Array<JsonValue>();
  keys: Array<string> = new Array<string>();
  fields: Map<string, JsonValue> = new Map<string, JsonValue>();

  isObject(): bool { return this.kind == JsonKind.Object; }
  isArray(): bool { return this.kind == JsonKind.Array; }
  isString(): bool { return this.kind == JsonKind.String; }
  isNumber(): bool { return this.kind == JsonKind.Number; }

  has(key: string): bool { return this.kind == JsonKind.Object && this.fields.has(key); }

  // The member `key`, or a Null value when absent (so lookups chain without checks).
  get(key: string): JsonValue {
    if (this.has(key)) return this.fields.get(key);
    return new JsonValue();
  }

  // Plain if/return, not `?:`: AssemblyScript 0.17's reference counting over-releases a
  // string parameter returned through a conditional expression.
  getString(key: string, fallback: string): string {
    const v = this.get(key);
    if (v.kind == JsonKind.String) return v.stringValue;
    return fallback;
  }

  getNumber(key: string, fallback: f64): f64 {
    const v = this.get(key);
    if (v.kind == JsonKind.Number) return v.numberValue;
    return fallback;
  }

  getBool(key: string, fallback: bool): bool {
    const v = this.get(key);
    if (v.kind == JsonKind.Bool) return v.boolValue;
    return fallback;
  }
}

export class JsonParser {
  private text: string;
  private pos: i32 = 0;
  error: string = "";

  constructor(text: string) {
    this.text = text;
  }

  // Parses the whole text; on failure returns a Null value and sets `error`.
  parse(): JsonValue {
    const value = this.value();
    this.ws();
    if (this.error.length == 0 && this.pos < this.text.length) {
      this.fail("trailing characters");
    }
    return value;
  }

  private fail(message: string): void {
    if (this.error.length == 0) {
      this.error = message + " at offset " + this.pos.toString();
    }
  }

  private peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  private ws(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) this.pos++;
      else break;
    }
  }

  private literal(word: string): bool {
    if (this.text.substr(this.pos, word.length) == word) {
      this.pos += word.length;
      return true;
    }
    this.fail("unexpected token");
    return false;
  }

  private value(): JsonValue {
    const out = new JsonValue();
    this.ws();
    const c = this.peek();
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) {
      out.kind = JsonKind.String;
      out.stringValue = this.string();
      return out;
    }
    if (c == 0x74) { if (this.literal("true")) { out.kind = JsonKind.Bool; out.boolValue = true; } return out; }
    if (c == 0x66) { if (this.literal("false")) { out.kind = JsonKind.Bool; } return out; }
    if (c == 0x6e) { this.literal("null"); return out; }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = this.pos;
      this.pos++;
      while (this.pos < this.text.length) {
        const d = this.text.charCodeAt(this.pos);
        if ((d >= 0x30 && d <= 0x39) || d == 0x2e || d == 0x65 || d == 0x45 || d == 0x2b || d == 0x2d) this.pos++;
        else break;
      }
      const num = parseFloat(this.text.substring(start, this.pos));
      if (isNaN(num)) this.fail("bad number");
      out.kind = JsonKind.Number;
      out.numberValue = num;
      return out;
    }
    this.fail(c < 0 ? "unexpected end of input" : "unexpected character");
    return out;
  }

  private string(): string {
    this.pos++; // opening quote
    let result = "";
    let start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) {
        result += this.text.substring(start, this.pos);
        this.pos++;
        return result;
      }
      if (c == 0x5c) {
        result += this.text.substring(start, this.pos);
        this.pos++;
        const e = this.peek();
        this.pos++;
        if (e == 0x6e) result += "\n";
        else if (e == 0x74) result += "\t";
        else if (e == 0x72) result += "\r";
        else if (e == 0x62) result += "\b";
        else if (e == 0x66) result += "\f";
        else if (e == 0x75) {
          const hex = this.text.substr(this.pos, 4);
          const code = parseInt(hex, 16);
          if (hex.length != 4 || isNaN(code)) { this.fail("bad \\u escape"); return result; }
          result += String.fromCharCode(<i32>code);
          this.pos += 4;
        } else if (e == 0x22 || e == 0x5c || e == 0x2f) result += String.fromCharCode(e);
        else { this.fail("bad escape"); return result; }
        start = this.pos;
        continue;
      }
      this.pos++;
    }
    this.fail("unterminated string");
    return result;
  }

  private array(): JsonValue {
    const out = new JsonValue();
    out.kind = JsonKind.Array;
    this.pos++;
    this.ws();
    if (this.peek() == 0x5d) { this.pos++; return out; }
    while (this.error.length == 0) {
      out.items.push(this.value());
      this.ws();
      const c = this.peek();
      this.pos++;
      if (c == 0x5d) return out;
      if (c != 0x2c) { this.pos--; this.fail("expected ',' or ']'"); }
    }
    return out;
  }

  private object(): JsonValue {
    const out = new JsonValue();
    out.kind = JsonKind.Object;
    this.pos++;
    this.ws();
    if (this.peek() == 0x7d) { this.pos++; return out; }
    while (this.error.length == 0) {
      this.ws();
      if (this.peek() != 0x22) { this.fail("expected a string key"); break; }
      const key = this.string();
      this.ws();
      if (this.peek() != 0x3a) { this.fail("expected ':'"); break; }
      this.pos++;
      const v = this.value();
      if (!out.fields.has(key)) out.keys.push(key);
      out.fields.set(key, v);
      this.ws();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) return out;
      if (c != 0x2c) { this.pos--; this.fail("expected ',' or '}'"); }
    }
    return out;
  }
}
