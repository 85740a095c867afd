// rate-limit: per-user fixed-window rate limiting by plan.
//
// Configuration (JSON):
//   {"user_header": "x-user",          // who is calling (e.g. x-tenant after auth-tenant)
//    "plan_header": "x-plan",          // optional: plan chosen upstream (auth-tenant sets it)
//    "users": {"alice": "pro"},        // optional: plan per user, wins over plan_header
//    "default_plan": "free",
//    "plans": {"free": 3, "pro": 100}, // requests per window
//    "window_seconds": 60}
// Counters live in proxy shared data ("rate-limit:<user>" = "<window>:<count>") and are
// updated with compare-and-swap, so every worker VM sees the same count. The window comes
// from the proxy clock; a 1 s timer (onTick) notices each new window and counts it.
// Over the limit: 429 local reply. Every response carries x-rate-limit-limit,
// x-rate-limit-remaining and x-rate-limit-reset (seconds until the window resets).

export * from "../../common/exports";
import { Filter, registerRoot } from "../../common/proxy";
import {
  RootContext, Context, FilterHeadersStatusValues, log, LogLevelValues, Counter,
} from "@solo-io/proxy-runtime";
import { HeaderMapTypeValues, WasmResultValues, set_tick_period_milliseconds } from "@solo-io/proxy-runtime/runtime";
import { JsonParser } from "../../common/json";
import { readPluginConfig, getHeader, setHeader, localReply, sharedGet, sharedSet, nowNanos } from "../../common/host";

const NANOS: u64 = 1000000000;
const CAS_ATTEMPTS = 8;

class RateLimitRoot extends RootContext {
  userHeader: string = "x-user";
  planHeader: string = "";
  defaultPlan: string = "free";
  windowNanos: u64 = 60 * NANOS;
  plans: Map<string, u32> = new Map<string, u32>();
  users: Map<string, string> = new Map<string, string>();
  lastWindow: u64 = 0;
  allowed: Counter | null = null;
  limited: Counter | null = null;
  windows: Counter | null = null;

  createContext(context_id: u32): Context {
    return new RateLimit(context_id, this);
  }

  onConfigure(configuration_size: u32): bool {
    const parser = new JsonParser(readPluginConfig(configuration_size));
    const config = parser.parse();
    if (parser.error.length > 0 || !config.isObject()) {
      log(LogLevelValues.error, "rate-limit: configuration must be a JSON object: " + parser.error);
      return false;
    }
    this.userHeader = config.getString("user_header", "x-user").toLowerCase();
    this.planHeader = config.getString("plan_header", "").toLowerCase();
    this.defaultPlan = config.getString("default_plan", "free");
    const seconds = config.getNumber("window_seconds", 60);
    if (seconds < 1) {
      log(LogLevelValues.error, "rate-limit: window_seconds must be at least 1");
      return false;
    }
    this.windowNanos = (<u64>seconds) * NANOS;
    const plans = config.get("plans");
    if (!plans.isObject() || plans.keys.length == 0) {
      log(LogLevelValues.error, "rate-limit: \"plans\" must map plan names to requests per window");
      return false;
    }
    this.plans = new Map<string, u32>();
    for (let i = 0; i < plans.keys.length; i++) {
      const limit = plans.get(plans.keys[i]);
      if (!limit.isNumber() || limit.numberValue < 0) {
        log(LogLevelValues.error, "rate-limit: plan " + plans.keys[i] + " needs a non-negative number");
        return false;
      }
      this.plans.set(plans.keys[i], <u32>limit.numberValue);
    }
    if (!this.plans.has(this.defaultPlan)) {
      log(LogLevelValues.error, "rate-limit: default_plan " + this.defaultPlan + " is not in \"plans\"");
      return false;
    }
    this.users = new Map<string, string>();
    const users = config.get("users");
    for (let i = 0; i < users.keys.length; i++) {
      this.users.set(users.keys[i], users.getString(users.keys[i], this.defaultPlan));
    }
    if (this.allowed === null) this.allowed = new Counter("rate_limit_allowed_total");
    if (this.limited === null) this.limited = new Counter("rate_limit_limited_total");
    if (this.windows === null) this.windows = new Counter("rate_limit_windows_total");
    this.lastWindow = nowNanos() / this.windowNanos;
    set_tick_period_milliseconds(1000);
    log(LogLevelValues.info, "rate-limit: " + this.plans.size.toString() + " plans, window "
      + (this.windowNanos / NANOS).toString() + "s");
    return true;
  }

  onTick(): void {
    const window = nowNanos() / this.windowNanos;
    if (window != this.lastWindow) {
      this.lastWindow = window;
      const windows = this.windows;
      if (windows !== null) windows.increment(1);
      log(LogLevelValues.debug, "rate-limit: window " + window.toString() + " started, counters reset");
    }
  }

  limitFor(plan: string): u32 {
    return this.plans.has(plan) ? this.plans.get(plan) : this.plans.get(this.defaultPlan);
  }
}

class RateLimit extends Filter {
  limit: u32 = 0;
  remaining: u32 = 0;
  resetSeconds: u64 = 0;
  decided: bool = false;

  constructor(context_id: u32, root_context: RateLimitRoot) {
    super(context_id, root_context);
  }

  // Adds one request to the user's counter for `window`; returns the new count.
  private count(key: string, window: u64): u32 {
    const prefix = window.toString() + ":";
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const current = sharedGet(key);
      let count: u32 = 0;
      if (current.found && current.value.startsWith(prefix)) {
        count = <u32>parseInt(current.value.substring(prefix.length));
      }
      count++;
      const status = sharedSet(key, prefix + count.toString(), current.found ? current.cas : 0);
      if (status == WasmResultValues.Ok) return count;
      if (status != WasmResultValues.CasMismatch) {
        log(LogLevelValues.warn, "rate-limit: shared data write failed: " + status.toString());
        return count;
      }
    }
    log(LogLevelValues.warn, "rate-limit: counter contention on " + key);
    return <u32>-1;
  }

  private addHeaders(map: HeaderMapTypeValues): void {
    setHeader(map, "x-rate-limit-limit", this.limit.toString());
    setHeader(map, "x-rate-limit-remaining", this.remaining.toString());
    setHeader(map, "x-rate-limit-reset", this.resetSeconds.toString());
  }

  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const root = this.root_context as RateLimitRoot;
    let user = getHeader(HeaderMapTypeValues.RequestHeaders, root.userHeader);
    if (user.length == 0) user = "anonymous";
    let plan = root.defaultPlan;
    if (root.users.has(user)) {
      plan = root.users.get(user);
    } else if (root.planHeader.length > 0) {
      const fromHeader = getHeader(HeaderMapTypeValues.RequestHeaders, root.planHeader);
      if (fromHeader.length > 0) plan = fromHeader;
    }
    this.limit = root.limitFor(plan);

    const now = nowNanos();
    const window = now / root.windowNanos;
    const windowEnd = (window + 1) * root.windowNanos;
    this.resetSeconds = (windowEnd - now + NANOS - 1) / NANOS;
    const used = this.count("rate-limit:" + user, window);
    this.remaining = used >= this.limit ? 0 : this.limit - used;
    this.decided = true;

    if (used > this.limit) {
      const limited = root.limited;
      if (limited !== null) limited.increment(1);
      log(LogLevelValues.info, "rate-limit: " + user + " (" + plan + ") over " + this.limit.toString() + " requests");
      localReply(429, "rate_limited", "{\"error\":\"rate limited\",\"plan\":\"" + plan + "\"}\n", [
        "content-type", "application/json",
        "retry-after", this.resetSeconds.toString(),
        "x-rate-limit-limit", this.limit.toString(),
        "x-rate-limit-remaining", "0",
        "x-rate-limit-reset", this.resetSeconds.toString(),
      ]);
      return FilterHeadersStatusValues.StopIteration;
    }
    const allowed = root.allowed;
    if (allowed !== null) allowed.increment(1);
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    if (this.decided) this.addHeaders(HeaderMapTypeValues.ResponseHeaders);
    return FilterHeadersStatusValues.Continue;
  }
}

function newRoot(context_id: u32): RootContext {
  return new RateLimitRoot(context_id);
}

registerRoot(newRoot, "rate_limit");
registerRoot(newRoot, "");
