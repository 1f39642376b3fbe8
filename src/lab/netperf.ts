// netperf as ixlab runs it, in one place: the bench's cells and the topology's ready-to-run lines.
// -c -C measure CPU on both ends. Request/response tests size their request and response (-r);
// stream tests size their send message (-m).
export function netperfCommand(peer: { address: string; port: number }, test: string, size: number, seconds: number, cpu = true): string {
  const sizes = test.endsWith("_RR") ? `-r ${size},${size}` : `-m ${size}`;
  return `netperf -H ${peer.address} -p ${peer.port} -t ${test} -l ${seconds}${cpu ? " -c -C" : ""} -- ${sizes}`;
}
