"""数据共享交换: the resource catalogue, data services, purpose-bound requests with consent, and signed,
logged exchanges between platform nodes."""
