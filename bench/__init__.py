"""plait's benchmarks: ratios against peers measured in one run (not tests; see GUIDE §4)."""
