#include "cbench.h"
int metro_cbench_placeholder(void){return 0;}
