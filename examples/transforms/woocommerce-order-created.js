// WooCommerce order.created -> the neutral WMS order (README.md in this directory).
function handler(request) {
  const o = request.body;
  const s = o.shipping;
  return {
    body: {
      order_number: String(o.number),
      // WooCommerce's *_gmt times carry no zone: they are UTC.
      placed_at: new Date(o.date_created_gmt + "Z").toISOString(),
      currency: o.currency,
      customer: {
        name: `${o.billing.first_name} ${o.billing.last_name}`,
        email: o.billing.email,
      },
      ship_to: {
        name: `${s.first_name} ${s.last_name}`,
        street: [s.address_1, s.address_2].filter(Boolean).join(", "),
        city: s.city,
        postal_code: s.postcode,
        country: s.country,
      },
      lines: o.line_items.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        unit_price: Number(l.price).toFixed(2),
      })),
      total: Number(o.total).toFixed(2),
    },
    headers: { "X-Order-Channel": "woocommerce" },
  };
}
