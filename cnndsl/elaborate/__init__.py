"""AST to IR: evaluate parameters, expand blocks, repeats and branches."""
