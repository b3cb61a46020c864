/** The part of autocannon 9's API the gateway bench uses (the package ships no types). */
declare module 'autocannon' {
  interface AutocannonRequest {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    setupRequest?: (req: Record<string, any>, context: Record<string, unknown>) => Record<string, any> | undefined;
  }
  interface AutocannonOptions {
    url: string;
    connections?: number;
    amount?: number;
    duration?: number;
    tlsOptions?: Record<string, unknown>;
    requests?: AutocannonRequest[];
  }
  interface AutocannonResult {
    requests: { total: number };
    latency: { p50: number; p99: number };
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
  }
  function autocannon(options: AutocannonOptions, done: (err: Error | null, result: AutocannonResult) => void): { stop(): void };
  export default autocannon;
}
