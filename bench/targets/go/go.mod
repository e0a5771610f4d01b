module fanout/bench/targets/go

go 1.19
