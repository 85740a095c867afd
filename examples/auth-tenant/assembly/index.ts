// auth-tenant: API-key authentication that maps each key to a tenant and a plan.
//
// Configuration (JSON):
//   {"header": "x-api-key",                       // where the key is read from
//    "keys": {"k-acme-1": {"tenant": "acme", "plan": "pro"},
//             "k-globex": {"tenant": "globex"}},  // plan defaults to default_plan
//    "default_plan": "free", "tenant_header": "x-tenant", "plan_header": "x-plan"}
// A request without the header, or with an unknown key, gets a 401 local reply. Otherwise the
// key is stripped and the tenant and plan are forwarded upstream (any client-sent values are
// overwritten, so tenants cannot be spoofed).

export * from "../../common/exports";
import { Filter, registerRoot } from "../../common/proxy";
import {
  RootContext, Context, FilterHeadersStatusValues, log, LogLevelValues, Counter,
} from "@solo-io/proxy-runtime";
import { HeaderMapTypeValues } from "@solo-io/proxy-runtime/runtime";
import { JsonParser } from "../../common/json";
import { readPluginConfig, getHeader, hasHeader, removeHeader, setHeader, localReply } from "../../common/host";

class Tenant {
  constructor(public name: string, public plan: string) {}
}

class AuthRoot extends RootContext {
  header: string = "x-api-key";
  tenantHeader: string = "x-tenant";
  planHeader: string = "x-plan";
  keys: Map<string, Tenant> = new Map<string, Tenant>();
  allowed: Counter | null = null;
  denied: Counter | null = null;

  createContext(context_id: u32): Context {
    return new AuthTenant(context_id, this);
  }

  onConfigure(configuration_size: u32): bool {
    const parser = new JsonParser(readPluginConfig(configuration_size));
    const config = parser.parse();
    if (parser.error.length > 0 || !config.isObject()) {
      log(LogLevelValues.error, "auth-tenant: configuration must be a JSON object: " + parser.error);
      return false;
    }
    this.header = config.getString("header", "x-api-key").toLowerCase();
    this.tenantHeader = config.getString("tenant_header", "x-tenant").toLowerCase();
    this.planHeader = config.getString("plan_header", "x-plan").toLowerCase();
    const defaultPlan = config.getString("default_plan", "free");
    const keys = config.get("keys");
    if (!keys.isObject() || keys.keys.length == 0) {
      log(LogLevelValues.error, "auth-tenant: \"keys\" must map at least one API key to a tenant");
      return false;
    }
    this.keys = new Map<string, Tenant>();
    for (let i = 0; i < keys.keys.length; i++) {
      const entry = keys.get(keys.keys[i]);
      let tenant = "";
      let plan = defaultPlan;
      if (entry.isString()) {
        tenant = entry.stringValue;
      } else {
        tenant = entry.getString("tenant", "");
        plan = entry.getString("plan", defaultPlan);
      }
      if (tenant.length == 0) {
        log(LogLevelValues.error, "auth-tenant: key #" + i.toString() + " has no tenant");
        return false;
      }
      this.keys.set(keys.keys[i], new Tenant(tenant, plan));
    }
    if (this.allowed === null) this.allowed = new Counter("auth_tenant_allowed_total");
    if (this.denied === null) this.denied = new Counter("auth_tenant_denied_total");
    log(LogLevelValues.info, "auth-tenant: " + this.keys.size.toString() + " API keys configured");
    return true;
  }
}

class AuthTenant extends Filter {
  constructor(context_id: u32, root_context: AuthRoot) {
    super(context_id, root_context);
  }

  private deny(root: AuthRoot, reason: string): FilterHeadersStatusValues {
    const denied = root.denied;
    if (denied !== null) denied.increment(1);
    log(LogLevelValues.info, "auth-tenant: denied: " + reason);
    localReply(401, "auth_tenant_denied", "{\"error\":\"unauthorized\",\"reason\":\"" + reason + "\"}\n",
      ["content-type", "application/json", "www-authenticate", "ApiKey header=\"" + root.header + "\""]);
    return FilterHeadersStatusValues.StopIteration;
  }

  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const root = this.root_context as AuthRoot;
    if (!hasHeader(HeaderMapTypeValues.RequestHeaders, root.header)) {
      return this.deny(root, "missing API key");
    }
    const key = getHeader(HeaderMapTypeValues.RequestHeaders, root.header);
    if (!root.keys.has(key)) {
      return this.deny(root, "unknown API key");
    }
    const tenant = root.keys.get(key);
    removeHeader(HeaderMapTypeValues.RequestHeaders, root.header);
    setHeader(HeaderMapTypeValues.RequestHeaders, root.tenantHeader, tenant.name);
    setHeader(HeaderMapTypeValues.RequestHeaders, root.planHeader, tenant.plan);
    const allowed = root.allowed;
    if (allowed !== null) allowed.increment(1);
    return FilterHeadersStatusValues.Continue;
  }
}

function newRoot(context_id: u32): RootContext {
  return new AuthRoot(context_id);
}

registerRoot(newRoot, "auth_tenant");
registerRoot(newRoot, "");
