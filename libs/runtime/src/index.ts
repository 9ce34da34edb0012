// Shared service plumbing: config, logging, metrics, admin HTTP, gRPC server and client
// helpers, graceful shutdown, error mapping. (Filled in by the coordination-service work.)
export {};
