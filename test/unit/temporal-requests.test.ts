import { requestCountsOf, requestsPerUnitLine } from '../../bench/temporal-requests';

const exposition = `# HELP service_requests service_requests counter
# TYPE service_requests counter
service_requests{namespace="default",operation="RecordActivityTaskHeartbeat",service_name="frontend"} 120
service_requests{namespace="default",operation="RecordActivityTaskHeartbeat",service_name="history"} 120
service_requests{namespace="default",operation="PollWorkflowTaskQueue",service_name="frontend"} 40
service_requests{namespace="default",operation="PollWorkflowTaskQueue",service_name="matching"} 40
service_requests{namespace="temporal_system",operation="PollWorkflowTaskQueue",service_name="frontend"} 900
service_requests{namespace="_unknown_",operation="GetSystemInfo",service_name="frontend"} 2
# HELP service_latency service_latency histogram
# TYPE service_latency histogram
service_latency_bucket{operation="PollWorkflowTaskQueue",le="+Inf"} 40
`;

describe("the Temporal server's request counts (bench)", () => {
  test("counts the frontend's calls by operation, outside temporal_system, each call once", () => {
    expect(Object.fromEntries(requestCountsOf(exposition))).toEqual({ RecordActivityTaskHeartbeat: 120, PollWorkflowTaskQueue: 40, GetSystemInfo: 2 });
  });

  test('per unit between two snapshots, largest first, leaving out what did not move', () => {
    const before = new Map([['RecordActivityTaskHeartbeat', 20], ['PollWorkflowTaskQueue', 10], ['GetSystemInfo', 2]]);
    expect(requestsPerUnitLine(before, requestCountsOf(exposition), 10)).toBe('13.0 in all: RecordActivityTaskHeartbeat 10.0, PollWorkflowTaskQueue 3.0');
  });
});
