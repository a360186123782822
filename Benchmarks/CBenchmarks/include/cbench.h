int metro_cbench_placeholder(void);
