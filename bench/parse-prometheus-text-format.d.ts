/** The part of parse-prometheus-text-format 1.1's API the benches use (the package ships no types). */
declare module 'parse-prometheus-text-format' {
  interface PrometheusSample { value: string; labels?: Record<string, string> }
  interface PrometheusFamily { name: string; help: string; type: string; metrics: PrometheusSample[] }
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
