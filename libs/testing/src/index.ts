// Test harness for integration tests: real ZooKeeper servers, free ports, service processes.
export {};
