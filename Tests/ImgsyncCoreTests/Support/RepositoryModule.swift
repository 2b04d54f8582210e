// The repository (Repository, ImageBuilder, GC, verify) moved out of ImgsyncCore into its own module.
// Re-exported here for the whole test target, so that tests written against ImgsyncCore alone
// (`import ImgsyncCore`, as before the split) still find it.
@_exported import ImgsyncRepository
