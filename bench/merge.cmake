# bench_merge (issue 3): three-way merge throughput of a realistic Finding.
vigil_bench(bench_merge SOURCES bench_merge.cc LIBS vigil_sync)
