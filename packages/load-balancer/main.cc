// meshkv-lb entry point (placeholder until the balancer lands).
int main() { return 0; }
