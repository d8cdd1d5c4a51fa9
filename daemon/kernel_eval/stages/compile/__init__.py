"""Building user kernels: mapping compiler and Triton errors back to the user's .py file."""
