ParallelRun.main()
