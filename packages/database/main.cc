// meshkv-node entry point (placeholder until the node lands).
int main() { return 0; }
