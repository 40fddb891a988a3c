//! System tests in network namespaces (need root).
