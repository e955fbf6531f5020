"""My space (我的空间): favorites (收藏), history of what I opened, and 继续学习."""
