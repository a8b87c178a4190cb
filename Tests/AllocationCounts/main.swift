AllocationCounts.main()
