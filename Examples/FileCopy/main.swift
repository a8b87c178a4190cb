FileCopyTool.main()
