/**
 * A public app (src/http/app.ts) over a contract of the test's own, every operation served in
 * process by `serve` (a backend the test scripts), so a test sees what the contract checks let
 * through and what the gateway answers; no adapter, no network backend.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { gatewayConfigSchema } from '../../src/config/gateway-config.ts';
import { Contract } from '../../src/contract/contract.ts';
import type { CacheConfig } from '../../src/cache/cache-config.ts';
import { ResponseCache } from '../../src/cache/response-cache.ts';
import { buildApp } from '../../src/http/app.ts';
import { ResponseValidator } from '../../src/http/response-validator.ts';
import type { OperationRequest, OperationResult } from '../../src/kinds/kind.ts';
import { GatewayMetrics } from '../../src/observability/metrics.ts';
import { BindingPolicy } from '../../src/resilience/binding-policy.ts';
import { BASE_POLICY, mergePolicy } from '../../src/resilience/policy-config.ts';
import { BoundBinding, Route, RouteTable } from '../../src/routing/route-table.ts';
import { memoryLogger } from '../helpers/gateway.ts';

export type Serve = (req: OperationRequest) => OperationResult | Promise<OperationResult>;

export interface ContractApp {
  url: string;
  contract: Contract;
  /** Every request the backend received, in order. */
  received: OperationRequest[];
  close(): Promise<void>;
}

/** `server`: the config's `server:` section; `cache`: its `cache:` section, the response cache's hook then in front of every operation. */
export async function startContractApp(file: string, serve: Serve, server: Record<string, unknown> = {}, cache?: Record<string, unknown>): Promise<ContractApp> {
  const contract = new Contract(parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>, file);
  const config = gatewayConfigSchema.parse({ server: { docs: false, ...server }, ...(cache ? { cache } : {}) });
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  const routes = new RouteTable();
  const received: OperationRequest[] = [];
  const policy = mergePolicy(BASE_POLICY, { retry: { maxRetries: 0 } });
  for (const op of contract.all()) {
    const handler = async (req: OperationRequest) => {
      received.push(req);
      return serve(req);
    };
    const binding = new BoundBinding(
      'backend',
      'test',
      'legacy',
      op.operationId,
      new BindingPolicy(policy, { adapter: 'backend', operation: op.operationId, retryable: false, metrics }),
      handler,
      metrics,
    );
    routes.add(new Route(op, binding, undefined, { mode: 'legacy', percent: 0 }));
  }
  const logger = memoryLogger('silent').logger;
  const responses = new ResponseValidator(contract, config.server.writeOnly);
  const hooks = cache ? [new ResponseCache({ config: config.cache as CacheConfig, responses, routes, metrics, logger }).hook()] : [];
  const app = buildApp({ contract, config, routes, metrics, logger, readiness: async () => ({ ready: true, adapters: {} }), hooks, responses });
  const srv: Server = await new Promise((resolve) => {
    const s = createServer(app).listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    contract,
    received,
    close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  };
}
